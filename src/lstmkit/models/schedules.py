"""Keras 3 learning-rate schedules: `schedule(step) -> learning rate`, with step the optimizer's
iteration count (0 for the first update), as `keras.optimizers.schedules` computes them.

    ExponentialDecay        lr0 * rate ^ (step / decay_steps)                (floored with staircase)
    InverseTimeDecay        lr0 / (1 + rate * step / decay_steps)            (floored with staircase)
    PiecewiseConstantDecay  values[i] for boundaries[i-1] < step <= boundaries[i]
    PolynomialDecay         (lr0 - end) * (1 - min(step, d) / d) ^ power + end   (d grows with cycle)
    CosineDecay             linear warmup from lr0 to warmup_target over warmup_steps, then
                            peak * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2 + alpha)

Example:
    >>> from lstmkit.optimizers.schedules import ExponentialDecay
    >>> round(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10), 6)
    0.05
"""
import math

from ..errors import LstmkitError


class LearningRateSchedule:
    """Base class: `__call__(step) -> float`; `get_config()` gives its arguments."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positive(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise LstmkitError(f"{arg}: expected a positive number, got {value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate, self.decay_rate = float(initial_learning_rate), float(decay_rate)
        self.decay_steps, self.staircase, self.name = _positive(decay_steps, "decay_steps"), staircase, name

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise LstmkitError(f"values: expected one more value than boundaries, got {len(values)} values "
                               f"for {len(boundaries)} boundaries")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate, self.end_learning_rate = float(initial_learning_rate), float(end_learning_rate)
        self.decay_steps, self.power = _positive(decay_steps, "decay_steps"), float(power)
        self.cycle, self.name = cycle, name

    def __call__(self, step):
        steps = self.decay_steps
        if self.cycle:  # the first multiple of decay_steps at or above step (1 at step 0)
            steps = steps * (1.0 if step == 0 else math.ceil(step / self.decay_steps))
        else:
            step = min(step, steps)
        p = step / steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate, self.alpha = float(initial_learning_rate), float(alpha)
        self.decay_steps, self.name = _positive(decay_steps, "decay_steps"), name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step, peak):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                           PolynomialDecay, CosineDecay)}
