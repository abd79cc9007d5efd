"""Assessment's rules in plain Python (issue 13): circular cards and rankings, appraisal
scoring, patrol compliance judgement and meeting rules. No framework, database, broker or
schema library here (tests/unit/test_domain_purity.py); the modules around it read and
store, these decide."""
