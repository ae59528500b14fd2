"""Hidden checks: the same comparisons as the visible checks, on random shapes and values
drawn at grading time, with edge cases (a batch of one, a single feature) and the NumPy
reference as a further oracle. Only the instructor's notebooks call these; nbgrader strips
the calls from the student copies and from feedback."""
