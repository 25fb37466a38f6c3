"""The machinery behind ``precplan fit`` (the public API is :mod:`precplan.fit`).

- :mod:`.runs`      reading runs (CSV, JSONL, the validate results store, records), validation
- :mod:`.objective` Huber / least-squares objective on log loss, batched, with analytic gradients
- :mod:`.models`    the residual models of each stage (Chinchilla LSE, precision factors, PTQ)
- :mod:`.lbfgs`     a batched L-BFGS for many starts at once, and the scipy L-BFGS-B polish
- :mod:`.grids`     start grids (Hoffmann's 4,500 points and coarser ones)
- :mod:`.solve`     one stage's minimization (all starts, all resamples), progress bars
- :mod:`.plan`      what the data can identify: which stages and coefficients, donors for the rest
- :mod:`.stages`    Kumar et al.'s staged procedure: base, precision, PTQ
- :mod:`.quality`   predicted vs measured through Law.loss: R^2, relative errors
- :mod:`.bootstrap` resampled fits and their intervals
- :mod:`.optimum`   compute-optimal N*, D* (and P*) of a fitted law
- :mod:`.holdout`   held-out evaluation (``params>=1e9``, largest models)
- :mod:`.result`    the :class:`FitResult` and the law file it becomes
"""
