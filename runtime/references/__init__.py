"""One reference pair per rule: a small synthetic task, the buggy variant written
exactly as the rule flags it, the fixed variant the rule recommends, and the
claims the harness decides from what they measure."""
