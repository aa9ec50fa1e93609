"""Training: the one training step (TrainStep), the Trainer, callbacks, metrics, checkpoints,
progress bars, learning curves, gradient monitors and TensorBoard event files."""

from .callbacks import (
                        Callback,
                        CSVLogger,
                        EarlyStopping,
                        JSONLogger,
                        LRScheduler,
                        ModelCheckpoint,
                        PlotCurves,
)
from .metrics import accuracy, confusion_matrix, format_confusion
from .monitor import GradientMonitor, activation_histograms, feature_maps, weight_histograms
from .plots import plot_history
from .progress import ProgressBar, TrainingProgress
from .state import load_model, restore_training_state, save_training_state
from .step import StepOutput, TrainStep
from .tensorboard import TensorBoard
from .trainer import Trainer
