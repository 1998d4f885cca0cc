"""Keras 3 learning-rate schedules: `schedule(step) -> learning rate`, with step the optimizer's
iteration count (0 for the first update), as `keras.optimizers.schedules` computes them.

    ExponentialDecay        lr0 * rate ^ (step / decay_steps)                (floored with staircase)
    InverseTimeDecay        lr0 / (1 + rate * step / decay_steps)            (floored with staircase)
    PiecewiseConstantDecay  values[i] for boundaries[i-1] < step <= boundaries[i]
    PolynomialDecay         (lr0 - end) * (1 - min(step, d) / d) ^ power + end   (d grows with cycle)
    CosineDecay             linear warmup from lr0 to warmup_target over warmup_steps, then
                            peak * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2 + alpha)
    OneCycle                (lstmkit's, not Keras') torch's OneCycleLR: cosine from max/div_factor
                            up to max over pct_start of the steps, then down to
                            max/div_factor/final_div_factor; momentum cycles the other way

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


class OneCycle(LearningRateSchedule):
    """The 1cycle policy (Smith & Topin 2018) with torch's `OneCycleLR` numbers (two phases, cosine
    annealing): the learning rate rises from max/div_factor to max over the first pct_start of
    `total_steps`, then falls to max/div_factor/final_div_factor; with cycle_momentum the optimizer's
    momentum (Adam's beta_1, SGD's momentum) falls from max_momentum to base_momentum and rises back.

    Example:
        >>> s = OneCycle(0.01, total_steps=100)
        >>> round(s(0), 6), round(s(29), 6), round(s.momentum(29), 3)
        (0.0004, 0.01, 0.85)
    """

    def __init__(self, maximal_learning_rate, total_steps, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4, cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 name="OneCycle"):
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
            raise LstmkitError(f"total_steps: expected a positive int, got {total_steps!r}")
        if isinstance(pct_start, bool) or not isinstance(pct_start, (int, float)) or not 0 <= pct_start <= 1:
            raise LstmkitError(f"pct_start: expected a number in [0, 1], got {pct_start!r}")
        self.maximal_learning_rate, self.total_steps = float(maximal_learning_rate), total_steps
        self.pct_start, self.div_factor, self.final_div_factor = float(pct_start), div_factor, final_div_factor
        self.cycle_momentum, self.base_momentum, self.max_momentum = cycle_momentum, base_momentum, max_momentum
        self.name = name
        initial = self.maximal_learning_rate / div_factor
        # (last step, start lr, end lr, start momentum, end momentum) of each phase, as torch has them
        self._phases = [(self.pct_start * total_steps - 1, initial, self.maximal_learning_rate,
                         max_momentum, base_momentum),
                        (float(total_steps) - 1, self.maximal_learning_rate, initial / final_div_factor,
                         base_momentum, max_momentum)]

    def _at(self, step):
        """(phase, share of it done) for `step`."""
        start = 0.0
        for k, phase in enumerate(self._phases):
            if step <= phase[0] or k == len(self._phases) - 1:
                return phase, (step - start) / (phase[0] - start)
            start = phase[0]

    def __call__(self, step):
        (_, lr0, lr1, _, _), pct = self._at(step)
        return _cosine(lr0, lr1, pct)

    def momentum(self, step):
        """The momentum for update `step`, or None without cycle_momentum."""
        if not self.cycle_momentum:
            return None
        (_, _, _, m0, m1), pct = self._at(step)
        return _cosine(m0, m1, pct)

    def get_config(self):
        return {"maximal_learning_rate": self.maximal_learning_rate, "total_steps": self.total_steps,
                "pct_start": self.pct_start, "div_factor": self.div_factor,
                "final_div_factor": self.final_div_factor, "cycle_momentum": self.cycle_momentum,
                "base_momentum": self.base_momentum, "max_momentum": self.max_momentum, "name": self.name}


def _cosine(start, end, pct):
    """From `start` to `end` as pct goes from 0 to 1, along half a cosine (torch's formula, term for term)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                           PolynomialDecay, CosineDecay, OneCycle)}
