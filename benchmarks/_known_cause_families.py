"""The model families of the known-cause evaluation and their base configurations.

None of them was used to fit a shipped tree (the digits trees: tanh MLPs on the
digits; the cifar10 trees: ResNet-18):

- ``digits-relu-mlp``: a ReLU MLP 64-w-w-10 on scikit-learn's digits, knob the
  learning rate (batch 32);
- ``digits-cnn``: a small CNN on the 8x8 digits, with and without BatchNorm, knob
  the batch size (learning rate 0.05);
- ``synthetic-relu-mlp``: a ReLU MLP 20-w-w-5 on a 5-class ``make_classification``
  task, knob the learning rate (batch 32).

Every base configuration names the failure source it was built to show; the labels
are measured (one-step RFI), not taken from these names.
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_classification

from featurizers.lattice import LatticeConfig, LatticeFamily
from featurizers.zoo import digits_task

__all__ = ["FAMILIES", "family_bases"]


def relu_mlp(n_in, n_out):
    def factory(width):
        return torch.nn.Sequential(
            torch.nn.Linear(n_in, width), torch.nn.ReLU(),
            torch.nn.Linear(width, width), torch.nn.ReLU(),
            torch.nn.Linear(width, n_out),
        )
    factory.__qualname__ = f"relu_mlp_{n_in}_{n_out}"
    return factory


class _Image(torch.nn.Module):
    """Flat 64-pixel digits as 1x8x8 images."""

    def forward(self, x):
        return x.view(-1, 1, 8, 8)


def digits_cnn(width, batchnorm=False):
    """conv3x3(w) [BN] ReLU maxpool2 -> conv3x3(2w) [BN] ReLU avgpool -> linear."""
    def block(c_in, c_out):
        layers = [torch.nn.Conv2d(c_in, c_out, 3, padding=1)]
        if batchnorm:
            layers.append(torch.nn.BatchNorm2d(c_out))
        layers.append(torch.nn.ReLU())
        return layers
    return torch.nn.Sequential(
        _Image(), *block(1, width), torch.nn.MaxPool2d(2), *block(width, 2 * width),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(2 * width, 10),
    )


def synthetic_task(n_train=1000, n_test=1000, seed=0):
    X, y = make_classification(n_samples=n_train + n_test, n_features=20, n_informative=10,
                               n_redundant=4, n_classes=5, n_clusters_per_class=2,
                               class_sep=1.0, flip_y=0.0, random_state=seed)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def _families():
    digits_train, digits_test = digits_task(n_train=1200)
    cnn_train = (digits_train[0][:600], digits_train[1][:600])
    return {
        "digits-relu-mlp": LatticeFamily(
            "known-cause/digits-relu-mlp/v1", relu_mlp(64, 10), digits_train, digits_test,
            knob="learning rate", batch_size=32, epochs=20),
        "digits-cnn": LatticeFamily(
            "known-cause/digits-cnn/v1", digits_cnn, cnn_train, digits_test,
            knob="batch size", lr=0.1, epochs=12),
        "synthetic-relu-mlp": LatticeFamily(
            "known-cause/synthetic-relu-mlp/v1", relu_mlp(20, 5), *synthetic_task(),
            knob="learning rate", batch_size=32, epochs=20),
    }


#: (config, intended failure source) per family; knob values on the x4 lattice.
_BASES = {
    "digits-relu-mlp": [
        (LatticeConfig(0.0005, 32, 1200), "temperature too low"),   # stalls
        (LatticeConfig(0.002, 32, 1200), "temperature too low"),
        (LatticeConfig(0.002, 8, 300), "temperature too low"),
        (LatticeConfig(2.0, 32, 1200), "temperature too high"),      # diverges
        (LatticeConfig(0.5, 32, 600), "temperature too high"),
        (LatticeConfig(0.5, 32, 1200), "temperature too high"),
        (LatticeConfig(0.25, 32, 1200), "temperature too high"),
        (LatticeConfig(0.032, 2, 1200), "width too small"),
        (LatticeConfig(0.032, 4, 600), "width too small"),
        (LatticeConfig(0.032, 32, 75), "data too small"),
        (LatticeConfig(0.032, 32, 150), "data too small"),
        (LatticeConfig(0.032, 64, 1200), "well tuned"),
    ],
    "digits-cnn": [
        *((LatticeConfig(512, 8, 600, fixed={"batchnorm": bn}), "temperature too low")
          for bn in (False, True)),
        *((LatticeConfig(128, 8, 600, fixed={"batchnorm": bn}), "temperature too low")
          for bn in (False, True)),
        *((LatticeConfig(8, 8, 600, fixed={"batchnorm": bn}), "temperature too high")
          for bn in (False, True)),
        *((LatticeConfig(32, 2, 600, fixed={"batchnorm": bn}), "width too small")
          for bn in (False, True)),
        *((LatticeConfig(32, 8, 150, fixed={"batchnorm": bn}), "data too small")
          for bn in (False, True)),
        *((LatticeConfig(32, 16, 600, fixed={"batchnorm": bn}), "well tuned")
          for bn in (False, True)),
    ],
    "synthetic-relu-mlp": [
        (LatticeConfig(0.0002, 32, 1000), "temperature too low"),   # stalls
        (LatticeConfig(0.002, 32, 1000), "temperature too low"),
        (LatticeConfig(0.002, 8, 250), "temperature too low"),
        (LatticeConfig(3.2, 32, 1000), "temperature too high"),      # diverges
        (LatticeConfig(0.8, 32, 500), "temperature too high"),
        (LatticeConfig(0.4, 32, 1000), "temperature too high"),
        (LatticeConfig(0.2, 32, 1000), "temperature too high"),
        (LatticeConfig(0.05, 2, 1000), "width too small"),
        (LatticeConfig(0.05, 4, 500), "width too small"),
        (LatticeConfig(0.05, 32, 125), "data too small"),
        (LatticeConfig(0.05, 32, 250), "data too small"),
        (LatticeConfig(0.05, 128, 1000), "well tuned"),
    ],
}

FAMILIES = tuple(_BASES)


def smoke_bases(name):
    """A tiny version of a family (small data, 2 epochs, one base per failure source)."""
    import dataclasses

    family, _ = family_bases(name)
    (X, y), test = family.train, family.test
    family = dataclasses.replace(family, name=family.name + "/smoke", train=(X[:64], y[:64]),
                                 test=(test[0][:64], test[1][:64]), epochs=2)
    fixed = {"batchnorm": True} if name == "digits-cnn" else {}
    knob = 32 if family.knob == "batch size" else 0.05
    configs = [
        (LatticeConfig(knob, 4, 32, fixed=fixed), "temperature too high"),
        (LatticeConfig(knob, 4, 64, fixed=fixed), "temperature too low"),
        (LatticeConfig(knob, 2, 64, fixed=fixed), "width too small"),
        (LatticeConfig(knob, 4, 16, fixed=fixed), "data too small"),
        (LatticeConfig(knob, 8, 64, fixed=fixed), "well tuned"),
    ]
    return family, configs


def family_bases(name):
    """``(LatticeFamily, [(LatticeConfig, intended failure source), ...])`` of a family."""
    return _families()[name], list(_BASES[name])
