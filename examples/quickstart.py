"""A tour of profondo in one page: tensors and autograd, a new operator checked by
gradcheck, a network from an architecture file, and training on real MNIST digits.

    python examples/quickstart.py
"""

import numpy as np

import profondo
from profondo import Function, architecture, gradcheck, nn, optim
from profondo.data import DataLoader, load_dataset
from profondo.train import Trainer

# Small networks run fastest on one BLAS thread (on a busy 2-core machine, 2.4x faster than two).
profondo.set_num_threads(1)

# 1. Tensors record what is done to them; backward() fills .grad.
x = profondo.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
y = (x * x + x).sum()
y.backward()
print("d/dx sum(x*x + x) =", x.grad.numpy().tolist())  # 2x + 1


# 2. A new operator defines only its forward pass and its local gradient...
class Swish(Function):
    def forward(self, x):
        s = 1 / (1 + self.xp.exp(-x))
        self.save_for_backward(x, s)
        return x * s

    def backward(self, gy):
        x, s = self.saved
        return gy * (s + x * s * (1 - s))


# ...and gradcheck compares that gradient with central differences in float64.
print("Swish gradcheck:", gradcheck(lambda t: Swish().apply(t), [profondo.randn(3, 4, dtype="float64", requires_grad=True)]))

# 3. A network is a file; its neurons, connections, weights and MACs are counted without training.
profondo.manual_seed(0)
model = architecture.zoo.load("lenet5")
model.summary((1, 28, 28))

# 4. One epoch on 10,000 real MNIST digits, then the test set.
train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
loader = DataLoader(profondo.data.Subset(train, np.arange(10_000)), batch_size=64, shuffle=True, seed=0)
trainer = Trainer(model, optim.Adam(model.parameters(), 1e-3))
trainer.fit(loader, epochs=1)
print(f"test accuracy after one epoch on 10k digits: {trainer.evaluate(DataLoader(test, 500))['accuracy']:.2%}")
assert isinstance(model, nn.Module)
