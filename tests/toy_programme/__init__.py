"""A programme that exists only in the tests: proof that a new programme extends the shared machinery
by registration alone (issue 9). It has a fund and account kinds of its own, a batch kind with its own
steps (the township confirms, city HQ reviews after a 公示, the approver approves, the township pays),
a notice kind counted in 家, and a dashboard section — and not a line of `disbursements/` knows it."""
