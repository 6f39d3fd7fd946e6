# expect: nothing
LABELS = {"entailment": 0, "hypothesis": 1, "subprocess": 2}
def features(row, system, model):
    premise, hypothesis = row["premise"], row["hypothesis"]
    eval_loss = len("os.system") + len("pytest")
    model.eval()
    system = {"eval": premise, "exec": hypothesis}
    return system, eval_loss, LABELS["hypothesis"]
