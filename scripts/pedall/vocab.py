"""Choices shared by the command line and the modules that act on them, in a module that imports
nothing heavy, so that `pedall --help` and argument checking stay fast (the CLI imports lazily)."""

from __future__ import annotations

# pedall pool --by: option value -> column of the pooled candidates
GROUPINGS = {"intervention_class": "intervention_class", "product": "product_id", "study_design": "design",
             "response_definition": "response_definition"}
# pedall pool --method: tau² estimators, the first is the default
METHODS = ("REML", "DL")
# pedall pool --test: how CIs and prediction intervals are formed (metafor's `test`), the first is the default
TESTS = ("z", "knha")
