"""The data a model refines: is this value the input of a model's ``forward``?

Image-to-image networks (restoration, enhancement, CycleGAN-style
generators), audio enhancers and box refiners take data and return data of
the same kind, often as the input plus a predicted residual:
``return torch.sigmoid(x + self.body(x))``.  The data's range ([0, 1] for an
image loaded by ``ToTensor``, [-1, 1] for a normalised image, a waveform or
normalised boxes) is set by the data pipeline, which one file rarely shows.
So the answer here weighs the evidence one file has:

- where the value comes from: a parameter of ``forward``, an alias taken
  before the parameter is rebound (``residual = x``), a slice (``x[:, 3:6]``),
  a reshaped or resized copy -- not a value carried around a loop;
- who calls the module: a module of the same file that builds this one as a
  part (``self.refine = RefineNet()``) decides through the argument it passes
  (bounded, or its own input); a module built as a part whose calls are not
  visible (a block in an ``nn.Sequential``) is a hidden layer, not the model;
- for a model no other module of the file builds: its parameter's name
  (``img``, ``frames``, ``waveform``, ``boxes``, or the name of the parameter it
  is passed to, ``_rgb_to_ycbcr(self, image)``), its class name
  (``UnetGenerator``, ``DiffusionRefiner``, ``DenoisingNet`` -- not ``...Block``),
  its docstring (``Input: (B, 2, T) stereo waveform [-1, 1]``), and the
  residual's shape (a convolution to 3 channels: an RGB image).

:func:`model_input` answers with a :class:`ModelInput` (which parameter, of
which model, and the evidence in words) or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.bounds import bounded_unit_interval
from torchlint.semantics.callgraph import (
    bound_argument,
    call_sites,
    callee_function,
    callers,
    module_held_by,
    owner_class,
    resolve_callee,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.values import Scope, constant_number, flow_of, lookup
from torchlint.semantics.vocabulary import identifier_words

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

# -- vocabulary ---------------------------------------------------------------

# Parameter names that say the tensor is data with a fixed range: images,
# volumes, audio, normalised boxes and reference points.  Spectrogram features
# (`mel`, `spec`) are left out: they are usually standardised, not bounded.
DATA_WORDS = frozenset(
    {
        "img",
        "imgs",
        "image",
        "images",
        "frame",
        "frames",
        "rgb",
        "photo",
        "pixel",
        "pixels",
        "ldr",
        "hdr",
        "volume",
        "voxel",
        "voxels",
        "wav",
        "waveform",
        "waveforms",
        "audio",
        "box",
        "boxes",
        "bbox",
        "bboxes",
        "prob",
        "probs",
        "probability",
        "probabilities",
        # Degraded images, as restoration code names its input.
        "lq",
        "degraded",
        "blurry",
        "blurred",
        "hazy",
        "rainy",
    }
)
# Parameter names that say the tensor is not bounded data: logits, features,
# latent codes, masks and flows (a mask refined this way is usually a logit).
NOT_DATA_WORDS = frozenset(
    {
        "logit",
        "logits",
        "score",
        "scores",
        "heatmap",
        "heatmaps",
        "mask",
        "masks",
        "feat",
        "feats",
        "feature",
        "features",
        "hidden",
        "h",
        "emb",
        "embed",
        "embedding",
        "embeddings",
        "latent",
        "latents",
        "z",
        "code",
        "query",
        "key",
        "value",
        "state",
        "states",
        "token",
        "tokens",
        "attn",
        "attention",
        "weight",
        "weights",
        "alpha",
        "flow",
        "flows",
        "offset",
        "offsets",
        "delta",
        "noise",
        "energy",
    }
)
# `reference_points`, `ref_points`: normalised coordinates in DETR-style refiners.
_POINT_WORDS = frozenset({"point", "points", "pts", "anchor", "anchors"})
_REFERENCE_WORDS = frozenset({"ref", "reference", "init", "initial", "coarse", "prior"})
# Class names of models that return data of their input's kind.
MODEL_WORDS = frozenset(
    {
        "generator",
        "refiner",
        "refinement",
        "enhancer",
        "enhancement",
        "enhance",
        "restoration",
        "restorer",
        "denoiser",
        "denoising",
        "deblur",
        "deblurring",
        "derain",
        "deraining",
        "dehaze",
        "dehazing",
        "inpainting",
        "unet",
        "colorizer",
        "harmonizer",
        "upscaler",
        # Super-resolution and denoising networks known by their acronyms.
        "sr",
        "srcnn",
        "vdsr",
        "edsr",
        "rcan",
        "srgan",
        "esrgan",
        "dncnn",
    }
)
# Parts of a network, not the network: their input is a hidden feature.
PART_WORDS = frozenset(
    {
        "block",
        "layer",
        "cell",
        "unit",
        "stage",
        "gate",
        "attention",
        "attn",
        "head",
        "branch",
        "module",
    }
)
# A docstring that describes the input as data, states its range, or names the
# kind of model (an image-to-image network).
_DATA_TEXT = re.compile(
    r"\b(images?|rgb|pixels?|waveforms?|audio|volumes?|voxels?|frames?)\b"
    r"|\[\s*-?\s*[01](\.0)?\s*,\s*1(\.0)?\s*\]"
    r"|\bu-?net\b|\bgenerator\b|\brestor|\benhanc|\bdenois|\bdeblur|\bsuper-?resolution\b",
    re.IGNORECASE,
)
# Operations that return the same data, reshaped, resized or cast.
_KEEPING_METHODS = frozenset(
    {
        "view",
        "view_as",
        "reshape",
        "reshape_as",
        "permute",
        "transpose",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "float",
        "double",
        "half",
        "to",
        "type_as",
        "clone",
        "detach",
        "flatten",
        "unflatten",
    }
)
_KEEPING_FUNCTIONS = frozenset(
    {
        "torch.nn.functional.interpolate",
        "torch.nn.functional.upsample",
        "torch.nn.functional.pad",
    }
)
_CONVOLUTIONS = frozenset({"Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d"})
_RGB_CHANNELS = 3
_MAX_DEPTH = 8


@dataclass(frozen=True)
class ModelInput:
    """A value read as the data a model takes and returns refined.

    ``parameter`` is the ``forward`` parameter it holds, ``owner`` names the
    model (``UnetGenerator.forward``), ``evidence`` says in words why the
    parameter is read as data (``its class is named like a model that returns
    its input refined``).
    """

    parameter: str
    owner: str
    evidence: str
    confidence: Confidence


# -- where a value comes from --------------------------------------------------


def held_parameter(
    context: FileContext, expr: cst.BaseExpression, scope: Scope
) -> tuple[str, list[str]] | None:
    """The parameter of the enclosing function that ``expr`` still holds at ``scope``.

    Answers ``(parameter, names)``: ``names`` are the names the value went
    through (``residual`` for ``residual = x``).  The parameter itself, an
    alias taken before the parameter is rebound, a slice, a reshaped, cast or
    resized copy count; a value rebound inside a loop around ``scope`` does
    not (after the first pass it is the loop's own result).
    """
    names: list[str] = []
    found = _held(context, expr, scope, names, 0)
    return (found, names) if found is not None else None


def _held(context, expr, scope, names, depth) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Name):
        if _rebound_in_loop(scope, expr.value):
            return None
        bindings, found_scope = lookup(context, expr.value, scope)
        if len(bindings) != 1 or found_scope.flow is not scope.flow:
            return None
        binding = bindings[0]
        names.append(expr.value)
        if binding.kind == "param":
            return binding.name
        if binding.kind == "assign":
            return _held(context, binding.value, found_scope.at(binding), names, depth + 1)
        return None
    if isinstance(expr, cst.Subscript):
        return _held(context, expr.value, scope, names, depth + 1)
    if isinstance(expr, cst.Call):
        func = expr.func
        # `x.float()`, `x[:, :3].contiguous()`; not `torch.flatten` (a function, resolved below).
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in _KEEPING_METHODS
            and context.semantics.qualified_name(func) is None
        ):
            return _held(context, func.value, scope, names, depth + 1)
        qualified = context.semantics.qualified_name(func)
        if qualified in _KEEPING_FUNCTIONS and expr.args and not expr.args[0].star:
            return _held(context, expr.args[0].value, scope, names, depth + 1)
    return None


def _rebound_in_loop(scope: Scope, name: str) -> bool:
    loops = [node for node in scope.path if isinstance(node, (cst.For, cst.While))]
    if not loops:
        return False
    for binding in scope.flow.bindings.get(name, ()):
        if binding.kind == "param":
            continue
        if any(loop in binding.path or binding.statement is loop for loop in loops):
            return True
    return False


def returned_value(context: FileContext, node: cst.BaseExpression, scope: Scope) -> bool:
    """Whether the value of ``node`` is what its function returns.

    ``return node``, ``return node, extra``, ``return node.view(...)``, an arm
    of a conditional expression (``return node if flag else other``), or a
    name assigned one of those that is still bound to it where it is returned.
    """
    for statement, return_scope in scope.flow.returns:
        if statement.value is not None and _returns(context, statement.value, node, return_scope):
            return True
    return False


def _returns(context, value, node, scope) -> bool:
    if _is_or_picks(value, node):
        return True
    if isinstance(value, (cst.Tuple, cst.List)):
        return any(
            not isinstance(element, cst.StarredElement)
            and _returns(context, element.value, node, scope)
            for element in value.elements
        )
    if isinstance(value, cst.Call):
        func = value.func
        return (
            isinstance(func, cst.Attribute)
            and func.attr.value in _KEEPING_METHODS
            and _returns(context, func.value, node, scope)
        )
    if isinstance(value, cst.Name):
        bindings, _ = lookup(context, value.value, scope)
        return any(b.kind == "assign" and _is_or_picks(b.value, node) for b in bindings)
    return False


def _is_or_picks(value, node) -> bool:
    """``value`` is ``node``, or a conditional expression one of whose arms is."""
    while isinstance(value, cst.IfExp):
        if _is_or_picks(value.body, node):
            return True
        value = value.orelse
    return value is node


# -- is it the model's input? ----------------------------------------------------


def model_input(
    context: FileContext,
    expr: cst.BaseExpression,
    scope: Scope,
    partners: tuple[tuple[cst.BaseExpression, Scope], ...] = (),
    depth: int = 0,
) -> ModelInput | None:
    """``expr`` read as the data a model takes and refines, with the evidence; or None.

    ``expr`` must hold a parameter of a ``forward`` (see :func:`held_parameter`).
    A model built as a part of another module of the same file is judged by
    what that module passes it; any other model by its names, docstring and
    the shape of ``partners`` (the residuals added to ``expr``, with their
    scopes: one made by a convolution to 3 channels says the data is an RGB
    image).
    """
    held = held_parameter(context, expr, scope)
    fn = scope.flow.function
    if held is None or fn is None or fn.name.value != "forward":
        return None
    parameter, names = held
    cls = owner_class(context, fn)
    if cls is None:
        return None
    owner = f"{cls.name.value}.forward"
    if _built_as_part(context, cls):
        return _input_through_callers(context, fn, parameter, owner, depth)
    evidence = _evidence(context, fn, cls, parameter, names, partners)
    if evidence is None:
        return None
    return ModelInput(parameter, owner, evidence, Confidence.MEDIUM)


def _built_as_part(context: FileContext, cls: cst.ClassDef) -> bool:
    """Whether a method of another class of the file constructs ``cls`` (a sub-module)."""
    key = ("inputs.parts", cls)
    cache = context.semantics.cache
    if key in cache:
        return cache[key]
    found = False
    name = cls.name.value
    for call, call_scope in call_sites(context):
        if _called_name(call) != name:
            continue
        builder = owner_class(context, call_scope.flow.function)
        if builder is not None and builder is not cls:
            found = True
            break
    cache[key] = found
    return found


def _called_name(call: cst.Call) -> str | None:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def _input_through_callers(context, fn, parameter, owner, depth) -> ModelInput | None:
    if depth >= 2:
        return None
    sites = [
        (call, call_scope)
        for call, call_scope in callers(context, fn)
        if owner_class(context, call_scope.flow.function) is not None
    ]
    if not sites:
        return None  # a part whose calls are not visible: a hidden layer
    reasons = []
    for call, call_scope in sites:
        argument = bound_argument(context, call, fn, parameter)
        if argument is None:
            return None
        bound = bounded_unit_interval(context, argument, call_scope)
        if bound is not None:
            reasons.append(f"it is passed a value bounded by {bound.origin}")
            continue
        outer = model_input(context, argument, call_scope, depth=depth + 1)
        if outer is None:
            return None
        reasons.append(f"it is passed the input of {outer.owner} ({outer.evidence})")
    return ModelInput(parameter, owner, "; ".join(dict.fromkeys(reasons)), Confidence.MEDIUM)


def _evidence(context, fn, cls, parameter, names, partners) -> str | None:
    if any(NOT_DATA_WORDS.intersection(_name_words(name)) for name in (parameter, *names)):
        return None
    reasons = []
    data_name = _data_name([parameter, *names, *_receiving_parameters(context, fn, names)])
    if data_name is not None:
        reasons.append(f"`{data_name}` is named like bounded data")
    first = _first_parameter(fn)
    if parameter == first:
        words = _name_words(cls.name.value)
        # `FeatureRefiner`, `MaskRefiner`: a model of hidden values, not of data.
        if MODEL_WORDS & words and not (PART_WORDS | NOT_DATA_WORDS) & words:
            reasons.append(
                f"`{cls.name.value}` is named like a model that returns its input refined"
            )
        for owner in (cls, fn):
            docstring = owner.get_docstring()
            if docstring and _DATA_TEXT.search(docstring):
                reasons.append(f"the docstring of `{owner.name.value}` describes its input as data")
                break
    for partner, partner_scope in partners:
        if has_rgb_output(context, partner, partner_scope):
            reasons.append("the residual comes from a convolution to 3 channels (an RGB image)")
            break
    return "; ".join(reasons) if reasons else None


def _first_parameter(fn: cst.FunctionDef) -> str | None:
    names = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return names[0] if names else None


def _name_words(name: str) -> set[str]:
    """Words of ``name`` without trailing digits, plus adjacent pairs joined.

    ``img1_c`` -> ``img``, ``c``; ``ResUNetGenerator`` -> ``res``, ``u``, ``net``,
    ``generator``, ``resu``, ``unet``, ``netgenerator``.
    """
    words = [word.rstrip("0123456789") for word in identifier_words(name)]
    words = [word for word in words if word]
    return {*words, *(first + second for first, second in zip(words, words[1:]))}


def _data_name(names) -> str | None:
    for name in names:
        words = _name_words(name)
        if words & DATA_WORDS:
            return name
        if words & _POINT_WORDS and words & _REFERENCE_WORDS:
            return name
    return None


def _receiving_parameters(context, fn, names) -> list[str]:
    """Names of the parameters of this file's functions that ``forward`` passes the input to.

    ``y, uv = self._rgb_to_ycbcr(x)`` with ``def _rgb_to_ycbcr(self, image)``: ``image``.
    """
    wanted = set(names)
    found = []
    flow = flow_of(context, fn)
    for call, call_scope in call_sites(context):
        if call_scope.flow is not flow:
            continue
        for position, arg in enumerate(call.args):
            if arg.star or not (isinstance(arg.value, cst.Name) and arg.value.value in wanted):
                continue
            callee = callee_function(context, resolve_callee(context, call, call_scope))
            if callee is None or callee is fn:
                continue
            parameters = [
                p.name.value for p in (*callee.params.posonly_params, *callee.params.params)
            ]
            if parameters and parameters[0] in ("self", "cls"):
                parameters = parameters[1:]
            if arg.keyword is not None:
                found.append(arg.keyword.value)
            elif position < len(parameters):
                found.append(parameters[position])
    return found


def output_channels(
    context: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int = 0
) -> int | None:
    """The literal channel count of the convolution that produces ``expr``, if one does.

    ``residual = self.out_conv(d1)`` with ``self.out_conv = nn.Conv2d(64, 3, 1)``: 3;
    an ``nn.Sequential`` answers for its last layer; resizing keeps the count.
    """
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Name):
        bindings, found_scope = lookup(context, expr.value, scope)
        counts = {
            output_channels(context, b.value, found_scope.at(b), depth + 1)
            for b in bindings
            if b.kind == "assign"
        }
        if len(counts) == 1 and len(bindings) == len([b for b in bindings if b.kind == "assign"]):
            return counts.pop()
        return None
    if not isinstance(expr, cst.Call):
        return None
    qualified = context.semantics.qualified_name(expr.func)
    if qualified in _KEEPING_FUNCTIONS and expr.args and not expr.args[0].star:
        return output_channels(context, expr.args[0].value, scope, depth + 1)
    callee = resolve_callee(context, expr, scope)
    if callee.kind != "torch_module" or callee.constructor is None:
        return None
    return _module_channels(context, callee, depth)


def _module_channels(context, callee, depth) -> int | None:
    last = callee.qualified.rsplit(".", 1)[-1]
    constructor = callee.constructor
    if last == "Sequential":
        layers = [arg.value for arg in constructor.args if not arg.star and arg.keyword is None]
        if not layers:
            return None
        held = module_held_by(context, layers[-1], callee.scope, 0)
        if held is None or held.kind != "torch_module" or depth > _MAX_DEPTH:
            return None
        return _module_channels(context, held, depth + 1)
    if last not in _CONVOLUTIONS:
        return None
    value = None
    positional = [arg.value for arg in constructor.args if arg.keyword is None and not arg.star]
    for arg in constructor.args:
        if arg.keyword is not None and arg.keyword.value == "out_channels":
            value = arg.value
    if value is None and len(positional) > 1:
        value = positional[1]
    if value is None:
        return None
    # `nn.Conv2d(features, out_channels, 1)` with `out_channels=3` a default of `__init__`.
    count = constant_number(context, value)
    return int(count) if count is not None and count == int(count) else None


def has_rgb_output(context: FileContext, expr: cst.BaseExpression, scope: Scope) -> bool:
    """Whether ``expr`` comes from a convolution to 3 channels (an RGB image's shape)."""
    return output_channels(context, expr, scope) == _RGB_CHANNELS
