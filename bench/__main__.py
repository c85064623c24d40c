"""``python -m bench`` (``make bench``): run every benchmark and write bench/results/*.json."""

from bench import accuracy, classify, dashboard, extraction, features, tagging

for module in (features, classify, extraction, dashboard, accuracy, tagging):
    module.main()
    print()
