"""``reusevos-bench``: speed, memory and energy proxies of bundles, on this host and on phones.

One protocol (``protocol.py``: cooldown, model load, warm-up, then the clip through the tracker with
every subgraph call timed), one versioned result schema for every device (``schema.py``), one small
device interface (``devices.py``: the host runs each bundle in a fresh process so peak RSS is its own;
Android and iOS drive the demo apps' benchmark modes), a Markdown table (``report.py``) and plots
(``plots.py``, matplotlib: the ``plot`` extra). Nothing here is imported by ``import reusevos_edge``.
"""
