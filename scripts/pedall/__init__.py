"""pedall: tooling for the pedall dataset (validation, release build, queries).

The *data* version lives in datapackage.json alone; this package's own version is the tooling's.
"""
