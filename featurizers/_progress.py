"""Private: progress of a featurization, per group and per stage of a group.

A featurizer's ``transform`` makes one :class:`_Progress`: it moves the tqdm bar over
groups (on stderr, when ``verbose > 0``), names the stage under way in the bar's
description (``"group 2/3: curves"``) and calls the ``progress`` hook, if any, as
``progress(index, n_groups, stage)``: ``index`` is the group's position in the list
given to ``transform`` (from 0), ``stage`` one of :data:`STAGES` as the group starts it,
then ``"done"`` when its row is in. Groups computed in joblib workers (``n_jobs``)
report only ``"done"``, in group order; rows read from the cache report nothing.
"""

#: Stages reported before ``"done"``: the feature families, in the order computed.
STAGES = ("train_error", "validation", "hessian", "curves", "CKA", "weights")


class _Progress:
    def __init__(self, bar, hook, n_groups, *, per_stage=True):
        self.bar, self.hook, self.n_groups, self.per_stage = bar, hook, n_groups, per_stage

    def stage(self, index, stage):
        if not self.per_stage:
            return
        self.bar.set_description_str(f"group {index + 1}/{self.n_groups}: {stage}",
                                     refresh=True)
        if self.hook is not None:
            self.hook(index, self.n_groups, stage)

    def done(self, index):
        self.bar.update(1)
        if self.hook is not None:
            self.hook(index, self.n_groups, "done")
