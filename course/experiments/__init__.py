"""The lessons' longer experiments: measured in the notebooks, graded nowhere."""
