"""Why MLPs fail for images: parameter counts, shifted and shuffled pixels, and a tiny CNN.

You count the parameters of dense and convolutional layers, move digits a few pixels
with a zero-filled shift, shuffle pixels with a fixed permutation that an MLP cannot
notice, and build a tiny CNN with global max pooling. The check then trains an MLP and
your CNN on synthetic digits and measures, with your functions, what a 4-pixel shift
does to each.

Run `dltutor check mlps-and-images`. Run this file (`python images.py`) to print the
numbers of the lesson with your functions.
"""

import math

import torch
from torch import nn


def mlp_params(sizes: list[int], bias: bool = True) -> int:
    """The number of parameters of an MLP whose layer widths are `sizes`.

    sizes = [784, 100, 10] means nn.Linear(784, 100) then nn.Linear(100, 10): one
    Linear(a, b) per consecutive pair, with a·b weights and, when bias=True, b biases.
    A list of one width has no layer and no parameters.
    """
    # TODO: one nn.Linear(a, b) per consecutive pair (a, b) of sizes: a·b weights, plus b biases if bias
    raise NotImplementedError


def conv_params(c_in: int, c_out: int, k: int | tuple[int, int], bias: bool = True) -> int:
    """The number of parameters of nn.Conv2d(c_in, c_out, kernel_size=k, bias=bias).

    k is an int (a k × k kernel) or a pair (kh, kw). Every one of the c_out filters spans
    all c_in input channels, and each filter has one bias.
    """
    # TODO: turn k into (kh, kw); c_out filters of c_in·kh·kw weights each, plus c_out biases if bias
    raise NotImplementedError


def dense_on_image(image_shape: tuple[int, int, int], units: int, bias: bool = True) -> int:
    """The parameters of one nn.Linear from a flattened image of shape (C, H, W) to `units`."""
    # TODO: the flattened image has C·H·W inputs (math.prod); reuse mlp_params
    raise NotImplementedError


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move every image dx pixels right and dy pixels down; the uncovered pixels become 0.

    images has shape (..., H, W): (N, H, W), (N, C, H, W) or a single (H, W). Negative dx
    moves left, negative dy moves up. Pixels pushed over the edge are lost (no wrapping
    around as with torch.roll); a shift of the whole width or height or more leaves only
    zeros. Returns a new tensor of the same shape, dtype and device; the input is unchanged.
    """
    # TODO: start from torch.zeros_like(images); H, W = images.shape[-2:]
    # TODO: if the shift is the whole width or height or more, that is the answer
    # TODO: copy the rows and columns that stay inside, images[..., rows, cols], to their new place
    raise NotImplementedError


def permute_pixels(images: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Shuffle the pixel positions of every image (and channel) with the same permutation.

    images has shape (..., H, W) and perm is a permutation of range(H·W). Pixel i of the
    output, counted row by row, is pixel perm[i] of the input:
        out.flatten(-2)[..., i] == images.flatten(-2)[..., perm[i]]
    Returns a new tensor of the same shape.
    """
    # TODO: flatten the last two dims, index them with perm, reshape back
    raise NotImplementedError


def permute_first_layer(linear: nn.Linear, perm: torch.Tensor) -> nn.Linear:
    """A new nn.Linear that gives on permuted images what `linear` gives on the originals.

    `linear` takes flattened one-channel images (in_features = H·W). The result satisfies
        new(permute_pixels(x, perm).flatten(1)) == linear(x.flatten(1))
    up to rounding. The original layer is left unchanged.
    """
    # TODO: input i of the new layer is pixel perm[i]: which column of the old weight belongs there?
    # TODO: a new layer (nn.Linear or copy.deepcopy), weights copied under torch.no_grad(), bias unchanged
    raise NotImplementedError


class TinyCNN(nn.Module):
    """Conv(1→16, 5×5, padding 2) → ReLU → MaxPool(2) → Conv(16→32, 3×3, padding 1) → ReLU
    → global max pooling over height and width → Linear(32 → 10).

    Input (N, 1, H, W) for any H, W ≥ 2; output (N, 10) logits.
    """

    def __init__(self):
        super().__init__()
        # TODO: the two nn.Conv2d layers, nn.MaxPool2d(2) and the nn.Linear(32, 10) head
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: conv1, ReLU, max-pool, conv2, ReLU, then the maximum over dims 2 and 3, then the head
        raise NotImplementedError


def accuracy_under_shift(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                         shifts: list[tuple[int, int]], batch_size: int = 500) -> list[float]:
    """The model's accuracy on the images moved by each (dx, dy) in `shifts`, with shift().

    images (N, 1, H, W) in [0, 1], background 0 (the model standardises them itself, so
    that a shift fills with background), labels (N,).
    Evaluate in eval mode without gradients, over all N images (in batches of
    batch_size, on the device of the model's parameters); return one fraction in [0, 1]
    per shift, in the order of `shifts`.
    """
    # TODO: device = next(model.parameters()).device; model.eval(); torch.no_grad()
    # TODO: per shift: count correct predictions over all batches of shifted images, divide by N
    raise NotImplementedError


if __name__ == "__main__":
    print("784-100-10 MLP:", mlp_params([784, 100, 10]), "parameters,",
          mlp_params([784, 100, 10], bias=False), "of them weights")
    print("224x224x3 image into 1000 units:", dense_on_image((3, 224, 224), 1000))
    print("Conv2d(3, 64, 3):", conv_params(3, 64, 3))
    x = torch.arange(12.0).reshape(1, 3, 4)
    print(x[0], "\nshifted 1 right, 1 up:\n", shift(x, 1, -1)[0])
