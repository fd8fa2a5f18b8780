"""MLPerf Inference's RetinaNet: ResNeXt50-32x4d, FPN P3–P7, 9 anchors, 264 OpenImages classes, 800×800.

What MLPerf's reference builds (mlcommons/inference, ``vision/classification_and_detection/python/models/
resnext50/retinanet.py``, ``retinanet_resnext50_32x4d_fpn(num_classes=264, image_size=[800, 800])``):
torchvision's RetinaNet on ``resnet_fpn_backbone('resnext50_32x4d', returned_layers=[2, 3, 4],
extra_blocks=LastLevelP6P7(256, 256))`` — frozen batch norm (scale and shift held as buffers, not
parameters), an FPN of 256 channels on C3–C5 with P6 and P7 from P5, and a head of four 3×3 conv + ReLU
per branch, ``cls_logits`` 9·264 = 2,376 channels and ``bbox_reg`` 9·4 = 36 channels.

The forward is the network MLPerf's TensorRT engine runs: backbone, FPN and head on a normalised
3×800×800 image, returning the per-anchor class logits (N, 120,087, 264) and box deltas (N, 120,087, 4)
(anchors: 9·(100² + 50² + 25² + 13² + 7²) = 120,087). Left out, and so not counted: the normalisation
(MLPerf's preprocessed dataset and NVIDIA's engine take the image already normalised), the anchor
generator (input-independent) and the post-processing (box decoding, top-k, NMS: data-dependent; NVIDIA's
engine runs NMS as a plugin). Module names follow torchvision's (``backbone.body.layer2.0.conv2``,
``backbone.fpn.inner_blocks.0.0``, ``head.classification_head.conv.0.0``) so rows read alike.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 264
NUM_ANCHORS = 9            # 3 sizes × 3 aspect ratios per location
IMAGE_SIZE = 800
FPN_CHANNELS = 256


class FrozenBatchNorm2d(nn.Module):
    """torchvision.ops.FrozenBatchNorm2d: batch norm with fixed statistics and affine (buffers)."""

    weight: torch.Tensor
    bias: torch.Tensor
    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias


class Bottleneck(nn.Module):
    """torchvision's ResNeXt bottleneck (stride on the 3×3 grouped conv: ResNet v1.5)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, groups: int = 32,
                 base_width: int = 4):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = FrozenBatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = FrozenBatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = FrozenBatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNeXtBody(nn.Module):
    """ResNeXt50-32x4d up to layer4, returning C3, C4, C5 (torchvision's IntermediateLayerGetter with
    returned_layers [2, 3, 4])."""

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, layers=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                                       FrozenBatchNorm2d(planes * 4))
            mods = [Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            mods += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*mods))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c3, c4, c5]


class LastLevelP6P7(nn.Module):
    """P6 = 3×3/2 conv of P5 (in = out channels, so torchvision's use_P5), P7 = 3×3/2 conv of relu(P6)."""

    def __init__(self, channels: int):
        super().__init__()
        self.p6 = nn.Conv2d(channels, channels, 3, 2, 1)
        self.p7 = nn.Conv2d(channels, channels, 3, 2, 1)

    def forward(self, p5):
        p6 = self.p6(p5)
        p7 = self.p7(F.relu(p6))
        return [p6, p7]


class FeaturePyramidNetwork(nn.Module):
    """torchvision's FeaturePyramidNetwork: 1×1 laterals, nearest top-down upsampling, 3×3 outputs."""

    def __init__(self, in_channels_list, out_channels: int):
        super().__init__()
        self.inner_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(c, out_channels, 1)) for c in in_channels_list)
        self.layer_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1))
                                          for _ in in_channels_list)
        self.extra_blocks = LastLevelP6P7(out_channels)

    def forward(self, x):
        last_inner = self.inner_blocks[-1](x[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(x) - 2, -1, -1):
            inner_lateral = self.inner_blocks[idx](x[idx])
            top_down = F.interpolate(last_inner, size=inner_lateral.shape[-2:], mode="nearest")
            last_inner = inner_lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        return results + self.extra_blocks(results[-1])


class BackboneWithFPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = ResNeXtBody()
        self.fpn = FeaturePyramidNetwork([512, 1024, 2048], FPN_CHANNELS)
        self.out_channels = FPN_CHANNELS

    def forward(self, x):
        return self.fpn(self.body(x))


def _tower(channels: int) -> nn.Sequential:
    """Four 3×3 conv + ReLU (torchvision's Conv2dNormActivation without a norm)."""
    return nn.Sequential(*(nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True))
                           for _ in range(4)))


class ClassificationHead(nn.Module):
    def __init__(self, channels: int, num_anchors: int, num_classes: int):
        super().__init__()
        self.conv = _tower(channels)
        self.cls_logits = nn.Conv2d(channels, num_anchors * num_classes, 3, padding=1)
        self.num_classes = num_classes

    def forward(self, features):
        out = []
        for x in features:
            logits = self.cls_logits(self.conv(x))
            n, _, h, w = logits.shape   # (N, A·K, H, W) → (N, H·W·A, K)
            logits = logits.view(n, -1, self.num_classes, h, w).permute(0, 3, 4, 1, 2)
            out.append(logits.reshape(n, -1, self.num_classes))
        return torch.cat(out, dim=1)


class RegressionHead(nn.Module):
    def __init__(self, channels: int, num_anchors: int):
        super().__init__()
        self.conv = _tower(channels)
        self.bbox_reg = nn.Conv2d(channels, num_anchors * 4, 3, padding=1)

    def forward(self, features):
        out = []
        for x in features:
            deltas = self.bbox_reg(self.conv(x))
            n, _, h, w = deltas.shape
            deltas = deltas.view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2)
            out.append(deltas.reshape(n, -1, 4))
        return torch.cat(out, dim=1)


class RetinaNetHead(nn.Module):
    def __init__(self, channels: int, num_anchors: int, num_classes: int):
        super().__init__()
        self.classification_head = ClassificationHead(channels, num_anchors, num_classes)
        self.regression_head = RegressionHead(channels, num_anchors)

    def forward(self, features):
        return OrderedDict(cls_logits=self.classification_head(features),
                           bbox_regression=self.regression_head(features))


class RetinaNet(nn.Module):
    """Backbone, FPN and head: what the engine runs (see the module's docstring for what is left out)."""

    def __init__(self, num_classes: int = NUM_CLASSES, num_anchors: int = NUM_ANCHORS):
        super().__init__()
        self.backbone = BackboneWithFPN()
        self.head = RetinaNetHead(FPN_CHANNELS, num_anchors, num_classes)

    def forward(self, images):
        return self.head(self.backbone(images))


def retinanet_resnext50_fpn(num_classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE):
    """MLPerf Inference's RetinaNet and its input: one normalised 3×800×800 image per sample."""
    return RetinaNet(num_classes), [f"3x{image_size}x{image_size}"]
