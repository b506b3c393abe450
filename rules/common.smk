# every dataset the config declares: a filtered run still reads the others' tables for the pretraining corpus
def dataset_plan(wildcards):
    return plan.declared.datasets[wildcards.dataset]


def resolved(wildcards):
    return plan.declared.datasets[wildcards.dataset].resolved
