"""zo for PyTorch: CPUAdam (a torch.optim.Optimizer on cpu_adam) and initialize(model,
config), DeepSpeed's shape, training a module's parameters in the zo engine."""
from zo.torch.cpu_adam import CPUAdam
from zo.torch.initialize import TrainingEngine, initialize

__all__ = ["CPUAdam", "TrainingEngine", "initialize"]
