"""The household grant's money (rules.md §3–6), on the shared machinery of `disbursements`: its fund
and accounts, the allocation down the levels, the tranche and 以奖代补 batch kinds, the guard every
paying route passes, settlement, recovery and equity, its notices, dashboard section and reconcile
checks. Registered in `SubsidiesConfig.ready()` (`registration.register`), like any programme."""
