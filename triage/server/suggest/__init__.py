"""A model of the team's own decisions (issue 14): what a lead looked like when it was
decided (features.py, snapshotted with each decision: store.py), trained with scikit-learn
(model.py) and measured on held-out decisions (evaluate.py); past decisions from a CRM's
file through an import map (history.py); `triage server suggest ...` (cli.py).

scikit-learn is imported by model.py and evaluate.py only, and only when a command needs
them: nothing here is imported by the rep's client, nor at the server's start-up.
"""
