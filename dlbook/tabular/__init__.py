"""Tables for networks: chapter 03 (bike sharing).

``tables``    one-hot encoding, standardisation with training statistics, the last days as a test set
``datasets``  UCI's bike-sharing counts through the hub
"""
