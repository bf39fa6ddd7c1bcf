"""Search spaces: specs (what may vary), architectures (one point of a space) and their exact counts.

Nothing here builds a torch model: the supernet and its subnets are :mod:`supernas.models`.
"""
