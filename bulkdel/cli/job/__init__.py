"""``bulkdel job ...``: the command family of a distributed job. ``parser`` builds its options;
``commands`` runs the sub-command asked for, from its module (``submit``, ``worker``,
``query`` for ``status``/``report``/``cancel``, ``admin`` for ``list``/``delete``; ``gates``
holds ``job submit``'s ``delete``-like gates)."""
