"""The project's studies: each trains and submits entries, or reads the board, and writes a
page under ``docs/`` (run from the checkout's root; each resumes and skips what the board
already holds).

- ``selection``: every baseline selection method per scale and seed (``leaderboard/``);
- ``junk``: subsets with a known share of junk, the board's sanity check;
- ``recipe_noise``: candidate recipes' seed noise against their spread of methods;
- ``validity``: seed noise, signal and decision accuracy across scales (``analysis``);
- ``composition``: what each method's subset keeps of the pool.

    python -m benchmark.studies.selection --track lm --scales xs,small
    python -m benchmark.studies.validity
"""
