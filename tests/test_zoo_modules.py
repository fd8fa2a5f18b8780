"""The zoo's modules (archstat/models, zoo.MODULES): MLPerf Inference's RetinaNet and BERT-large, by name,
built without torchvision, transformers or a download, and checked against the builds they copy."""

import json

import pytest
from typer.testing import CliRunner

from archstat.cli import app
from archstat.zoo import MODULES, as_target, module_names, resolve, shown_name

runner = CliRunner()

# RetinaNet ResNeXt50-32x4d FPN, 264 classes, 9 anchors (MLPerf's reference: torchvision's RetinaNet on
# resnet_fpn_backbone('resnext50_32x4d', returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256)),
# frozen batch norm, so its scale and shift are buffers):
#   body   22,911,680 = resnext50_32x4d's 25,028,904 − fc 2,049,000 − 68,224 batch-norm affine values
#   FPN     3,868,672 = laterals (512 + 1024 + 2048)·256 + 3·256 = 918,272; three 3×3 outputs 3·590,080;
#                       P6 and P7 2·590,080 (590,080 = 256·256·9 + 256)
#   class   7,837,000 = 4·590,080 + cls_logits 256·9·2,376 + 2,376 (2,376 = 9 anchors · 264 classes)
#   box     2,443,300 = 4·590,080 + bbox_reg 256·9·36 + 36
RETINANET_PARAMS = 22_911_680 + 3_868_672 + 7_837_000 + 2_443_300
# BERT-large QA (Hugging Face BertForQuestionAnswering, bert-large-uncased config, no pooler):
#   embeddings 31,782,912 = (30,522 + 512 + 2)·1,024 + LayerNorm 2,048
#   per layer  12,596,224 = Q, K, V, out 4·(1,024² + 1,024) + 4,096·1,024 + 4,096 + 1,024·4,096 + 1,024
#                           + two LayerNorms 2·2,048;  × 24 = 302,309,376
#   qa_outputs      2,050 = 1,024·2 + 2
BERT_PARAMS = 31_782_912 + 24 * 12_596_224 + 2_050
BERT_CONFIG = dict(vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                   intermediate_size=4096, max_position_embeddings=512, type_vocab_size=2)


def test_the_pinned_counts():
    assert RETINANET_PARAMS == 37_060_652 == MODULES["retinanet-resnext50-fpn"].params
    assert BERT_PARAMS == 334_094_338 == MODULES["bert-large"].params


def test_names_resolve_to_targets_and_back():
    assert module_names() == ["bert-large", "retinanet-resnext50-fpn"]
    for name, m in MODULES.items():
        assert as_target(name) == m.target and shown_name(m.target) == name
    assert as_target("vgg16") == "vgg16" and shown_name("module:torch.nn:Linear(4, 2)") == "torch.nn:Linear(4, 2)"


def test_a_config_command_says_it_is_a_module():
    r = runner.invoke(app, ["info", "bert-large"])
    assert r.exit_code == 2
    assert "'bert-large' is a module of the zoo (module:archstat.models.bert:bert_large)" in r.stderr
    with pytest.raises(Exception, match="is a module of the zoo"):
        resolve("retinanet-resnext50-fpn")
    assert "did you mean 'bert-large'" in runner.invoke(app, ["table", "bert-largo"]).stderr


def test_list_marks_them_as_modules():
    rows = json.loads(runner.invoke(app, ["list", "--format", "json"]).stdout)
    mods = {r["name"]: r for r in rows if r["kind"] == "module"}
    assert set(mods) == set(MODULES)
    assert mods["retinanet-resnext50-fpn"]["input"] == [3, 800, 800]
    assert mods["bert-large"]["params"] == 334_094_338
    assert "[module, needs torch]" in runner.invoke(app, ["list", "bert*"]).stdout


def _params(model):
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def test_retinanet_equals_torchvisions_build():
    """Every parameter and buffer by name and shape, as torchvision builds MLPerf's RetinaNet."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from torchvision.models import resnext50_32x4d
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.models.detection.retinanet import RetinaNet
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    from torchvision.ops.misc import FrozenBatchNorm2d

    from archstat.models.retinanet import retinanet_resnext50_fpn

    with torch.device("meta"):
        backbone = _resnet_fpn_extractor(resnext50_32x4d(norm_layer=FrozenBatchNorm2d), 3, returned_layers=[2, 3, 4],
                                         extra_blocks=LastLevelP6P7(256, 256))
        reference = RetinaNet(backbone, num_classes=264)
        ours, _ = retinanet_resnext50_fpn()
    assert _params(ours) == _params(reference)
    assert {n: b.shape for n, b in ours.named_buffers()} == {n: b.shape for n, b in reference.named_buffers()}
    assert sum(p.numel() for p in reference.parameters()) == RETINANET_PARAMS


def test_bert_large_equals_transformers_build():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from archstat.models.bert import bert_large

    config = transformers.BertConfig(**BERT_CONFIG)
    with torch.device("meta"):
        qa = transformers.BertForQuestionAnswering(config)
        classify = transformers.BertForSequenceClassification(config)
        ours_qa, inputs = bert_large()
        ours_classify, _ = bert_large(128, head="classify")
    assert _params(ours_qa) == _params(qa) and sum(p.numel() for p in qa.parameters()) == BERT_PARAMS
    assert _params(ours_classify) == _params(classify)
    assert inputs == {"input_ids": "int64:384", "attention_mask": "int64:384", "token_type_ids": "int64:384"}


@pytest.mark.slow
def test_bert_large_macs_equal_transformers_traced():
    """Traced op by op, the copy costs what Hugging Face's own module costs (its SDPA attention)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import archstat

    config = transformers.BertConfig(**BERT_CONFIG, attn_implementation="sdpa")
    with torch.device("meta"):
        hf = transformers.BertForQuestionAnswering(config).eval()
    # no attention mask: HF then skips its data-dependent mask check, which the meta device cannot run;
    # a mask adds to the attention scores and costs no multiply-accumulate
    shape = {"input_ids": "int64:384", "token_type_ids": "int64:384"}
    assert archstat.analyze(hf, input_shape=shape).totals.macs == MODULES["bert-large"].macs


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_listed_figures_are_what_table_counts(name):
    pytest.importorskip("torch")
    import archstat

    m = MODULES[name]
    t = archstat.analyze(name).totals
    assert (t.params, t.macs, t.activation_bytes) == (m.params, m.macs, m.activation_bytes)


def test_table_names_the_module_by_its_zoo_name():
    pytest.importorskip("torch")
    r = runner.invoke(app, ["table", "retinanet-resnext50-fpn", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["model"] == "retinanet-resnext50-fpn"
    assert [o["shape"] for o in d["outputs"]] == [[1, 120_087, 264], [1, 120_087, 4]]   # 9·13,343 anchors


def test_roofline_takes_the_zoo_name_and_its_own_input():
    pytest.importorskip("torch")
    import archstat

    r = archstat.roofline("bert-large", device="h100", dtype="int8", runtime="engine", batch=2)
    assert r.predicted_s > 0
