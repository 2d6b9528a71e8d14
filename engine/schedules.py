"""A1111's schedule types as sigma sequences, computed as its modules/sd_schedulers.py (1.10) computes them.

Each function returns the sigmas of an `n`-step render, highest first, ending with 0 (KL Optimal: with the model's
lowest sigma). `training` is the model's noise schedule as sigmas by timestep (ascending, 1000 values:
sqrt((1 - alphas_cumprod) / alphas_cumprod)); σmin and σmax are its ends, as k-diffusion's CompVisDenoiser has
them. Conversions between sigma and (fractional) timestep interpolate log σ, as k-diffusion does without
quantisation (A1111's default).

engine/samplers.py hands these to a diffusers scheduler that takes custom sigmas; where diffusers has the same
schedule as a scheduler option (Karras, Exponential, Beta) it uses the option instead.
"""

from __future__ import annotations

import numpy as np

# Align Your Steps (NVIDIA's 10-step schedules as A1111 lists them; diffusers' AysSchedules has the same values,
# the last one replaced by 0): log-linearly interpolated to other step counts
AYS_SIGMAS = {
    "sd": [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029],
    "sdxl": [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029],
}
BETA_ALPHA = BETA_BETA = 0.6  # A1111's beta_dist_alpha / beta_dist_beta defaults
KARRAS_RHO = 7.0
POLYEXPONENTIAL_RHO = 1.0


def training_sigmas(alphas_cumprod) -> np.ndarray:
    alphas = np.asarray(alphas_cumprod, dtype=np.float64)
    return np.sqrt((1 - alphas) / alphas)


def sigma_to_t(sigma: float, training: np.ndarray) -> float:
    """The fractional timestep of `sigma` (k-diffusion's DiscreteSchedule.sigma_to_t)."""
    log_sigmas = np.log(training)
    log_sigma = np.log(sigma)
    low = int(np.clip(np.count_nonzero(log_sigma - log_sigmas >= 0) - 1, 0, len(training) - 2))
    w = np.clip((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1]), 0, 1)
    return (1 - w) * low + w * (low + 1)


def t_to_sigma(t, training: np.ndarray) -> np.ndarray:
    """The sigma at fractional timesteps `t` (k-diffusion's DiscreteSchedule.t_to_sigma)."""
    t = np.asarray(t, dtype=np.float64)
    low, high = np.floor(t).astype(int), np.ceil(t).astype(int)
    log_sigmas = np.log(training)
    return np.exp((1 - (t - low)) * log_sigmas[low] + (t - low) * log_sigmas[high])


def _zero(sigmas) -> np.ndarray:
    return np.append(np.asarray(sigmas, dtype=np.float64), 0.0)


def uniform(n, training, family):
    """The model's own discretisation (k-diffusion's get_sigmas): n timesteps evenly from the last to 0."""
    return _zero(t_to_sigma(np.linspace(len(training) - 1, 0, n), training))


def normal(n, training, family):
    """Timesteps evenly from t(σmax) to t(σmin) (equal to Uniform without quantisation)."""
    start, end = sigma_to_t(training[-1], training), sigma_to_t(training[0], training)
    return _zero(t_to_sigma(np.linspace(start, end, n), training))


def sgm_uniform(n, training, family):
    """n + 1 timesteps evenly from t(σmax) to t(σmin), the last dropped."""
    start, end = sigma_to_t(training[-1], training), sigma_to_t(training[0], training)
    return _zero(t_to_sigma(np.linspace(start, end, n + 1)[:-1], training))


def karras(n, training, family):
    ramp = np.linspace(0, 1, n)
    low, high = training[0] ** (1 / KARRAS_RHO), training[-1] ** (1 / KARRAS_RHO)
    return _zero((high + ramp * (low - high)) ** KARRAS_RHO)


def exponential(n, training, family):
    return _zero(np.exp(np.linspace(np.log(training[-1]), np.log(training[0]), n)))


def polyexponential(n, training, family):
    ramp = np.linspace(1, 0, n) ** POLYEXPONENTIAL_RHO
    log_min, log_max = np.log(training[0]), np.log(training[-1])
    return _zero(np.exp(ramp * (log_max - log_min) + log_min))


def kl_optimal(n, training, family):
    """tan of a linear blend of atan σmax and atan σmin; ends at σmin (no appended 0)."""
    alpha_min, alpha_max = np.arctan(training[0]), np.arctan(training[-1])
    steps = np.arange(n + 1) / n
    return np.tan(steps * alpha_min + (1 - steps) * alpha_max)


def align_your_steps(n, training, family):
    sigmas = AYS_SIGMAS["sdxl" if family == "sdxl" else "sd"]
    if n == len(sigmas):
        return _zero(sigmas)
    xs, ys = np.linspace(0, 1, len(sigmas)), np.log(sigmas[::-1])
    return _zero(np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1])


def simple(n, training, family):
    """Every (len / n)-th training sigma from the top."""
    step = len(training) / n
    return _zero([training[-(1 + int(x * step))] for x in range(n)])


def ddim(n, training, family):
    """Every (len // n)-th training sigma from timestep 1, highest first (n + 1 of them when n does not divide
    the training steps, as in A1111)."""
    step = max(len(training) // n, 1)
    return _zero(training[1::step][::-1])


def beta(n, training, family):
    from scipy import stats  # slow to import: only when used

    low, high = training[0], training[-1]
    quantiles = stats.beta.ppf(1 - np.linspace(0, 1, n), BETA_ALPHA, BETA_BETA)
    return _zero(low + quantiles * (high - low))


# label -> sigmas(n, training, family): every schedule type but Automatic
SCHEDULES = {
    "Uniform": uniform, "Karras": karras, "Exponential": exponential, "Polyexponential": polyexponential,
    "SGM Uniform": sgm_uniform, "KL Optimal": kl_optimal, "Align Your Steps": align_your_steps, "Simple": simple,
    "Normal": normal, "DDIM": ddim, "Beta": beta,
}


def schedule_sigmas(label: str, n: int, training: np.ndarray, family: str) -> np.ndarray:
    """The sigmas of schedule type `label` for an `n`-step render on a model with `training` sigmas."""
    return SCHEDULES[label](n, np.asarray(training, dtype=np.float64), family)
