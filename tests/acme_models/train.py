"""Team training functions (``training.entrypoint: acme_models.train:<name>``): each gets
the typed training job and the train and validation rows, and returns the fitted model and
its MLflow flavor. Written the way a team would, against the documented contract only."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from airflow_ml_provider.core.training_job import TrainedModel, TrainingJob


def _features(job: TrainingJob, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.drop(columns=[job.data.target])


def boosted_trees(
    job: TrainingJob, train: pd.DataFrame, validation: pd.DataFrame | None
) -> TrainedModel:
    """Native LightGBM (``lgb.train``) with early stopping on the validation rows. Two
    probability columns (multiclass with two classes) so the model answers one probability
    per class, which the gate scores like predict_proba."""
    if validation is None:
        raise ValueError("boosted_trees needs data.split.validation_size for early stopping")
    target = job.data.target
    classes = sorted(train[target].unique().tolist())
    code = {label: index for index, label in enumerate(classes)}
    params = {
        "objective": "multiclass",
        "num_class": len(classes),
        "learning_rate": float(job.params.get("learning_rate", 0.1)),
        "num_leaves": int(job.params.get("num_leaves", 15)),
        "seed": job.data.split.seed,
        "deterministic": True,
        "verbose": -1,
    }
    evaluated: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        params,
        lgb.Dataset(_features(job, train), train[target].map(code)),
        num_boost_round=int(job.params.get("num_boost_round", 500)),
        valid_sets=[lgb.Dataset(_features(job, validation), validation[target].map(code))],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(20, verbose=False), lgb.record_evaluation(evaluated)],
    )
    losses = evaluated["validation"]["multi_logloss"]
    return TrainedModel(
        model=booster,
        flavor="lightgbm",
        classes=classes,
        history=[{"validation_logloss": loss} for loss in losses],
        params={"best_iteration": booster.best_iteration},
    )


def mlp(job: TrainingJob, train: pd.DataFrame, validation: pd.DataFrame | None) -> TrainedModel:
    """A small PyTorch MLP: standardisation inside the network (so it answers raw rows),
    softmax output (one probability per class), early stopping on the validation loss."""
    import torch
    from torch import nn

    torch.manual_seed(job.data.split.seed)
    target = job.data.target
    classes = sorted(train[target].unique().tolist())
    code = {label: index for index, label in enumerate(classes)}
    x = torch.tensor(_features(job, train).to_numpy(dtype=np.float32))
    y = torch.tensor(train[target].map(code).to_numpy(), dtype=torch.long)
    assert validation is not None, "mlp needs data.split.validation_size"
    x_val = torch.tensor(_features(job, validation).to_numpy(dtype=np.float32))
    y_val = torch.tensor(validation[target].map(code).to_numpy(), dtype=torch.long)

    class Net(nn.Module):
        def __init__(self, mean: torch.Tensor, std: torch.Tensor, width: int) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)
            self.layers = nn.Sequential(
                nn.Linear(len(mean), width), nn.ReLU(), nn.Linear(width, len(classes))
            )

        def forward(self, rows: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.layers((rows - self.mean) / self.std), dim=1)

    net = Net(x.mean(0), x.std(0) + 1e-6, int(job.params.get("width", 32)))
    optimiser = torch.optim.Adam(net.parameters(), lr=float(job.params.get("lr", 0.01)))
    loss_of = nn.NLLLoss()
    history, best, best_state, patience = [], float("inf"), None, 0
    for _epoch in range(int(job.params.get("epochs", 200))):
        net.train()
        optimiser.zero_grad()
        loss = loss_of(torch.log(net(x) + 1e-9), y)
        loss.backward()
        optimiser.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(loss_of(torch.log(net(x_val) + 1e-9), y_val))
        history.append({"train_loss": float(loss), "validation_loss": val_loss})
        if val_loss < best - 1e-4:
            best, patience = val_loss, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            patience += 1
            if patience >= 10:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return TrainedModel(
        model=net, flavor="pytorch", classes=classes, history=history,
        params={"epochs_run": len(history)},
    )  # fmt: skip


def not_a_model(job: TrainingJob, train: pd.DataFrame, validation: pd.DataFrame | None):
    """Returns what no flavor can log (the error must name the function)."""
    return {"weights": [1, 2, 3]}
