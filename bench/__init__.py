"""dspex benchmark suite: dspex against its peers, measured side by side in one run.

Run `python -m bench --help`. Every scenario interleaves the peer and dspex within each
repetition and reports medians over repetitions, so ratios are comparable even on a busy
machine; absolute numbers are not.
"""
