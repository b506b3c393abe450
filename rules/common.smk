def dataset_plan(wildcards):
    return plan.datasets[wildcards.dataset]


def resolved(wildcards):
    return plan.datasets[wildcards.dataset].resolved
