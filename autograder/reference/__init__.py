"""NumPy reference implementations of every graded function, named and shaped as in
CONVENTIONS.md. Hidden checks and the repository's tests use them; visible checks never
do (a learner's copy of the course need not contain them)."""
