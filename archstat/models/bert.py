"""BERT-large as MLPerf Inference runs it: bert-large-uncased fine-tuned for SQuAD v1.1, sequence 384.

Hugging Face's ``BertForQuestionAnswering(BertConfig(vocab_size=30522, hidden_size=1024,
num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, max_position_embeddings=512,
type_vocab_size=2, hidden_act="gelu"))`` in plain torch, with its module names
(``bert.encoder.layer.0.attention.self.query``, ``qa_outputs``) and its forward in eval mode:
embeddings (word + position + token type, LayerNorm), 24 post-norm encoder layers whose attention is
one ``F.scaled_dot_product_attention`` with the padding mask added to the scores (HF's ``sdpa``
attention), exact GELU, and the QA head (start and end logits). Inputs: token ids, attention mask,
segment (token type) ids, each ``int64`` of the sequence length. No pooler (HF builds the QA model
without one).

``head="classify"`` builds ``BertForSequenceClassification`` instead (pooler: dense + tanh on the first
token, then a linear classifier), as NVIDIA DeepLearningExamples' GLUE fine-tuning runs BERT-large.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

LARGE = dict(vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
             intermediate_size=4096, max_position_embeddings=512, type_vocab_size=2)
LAYER_NORM_EPS = 1e-12


class BertEmbeddings(nn.Module):
    position_ids: torch.Tensor

    def __init__(self, vocab_size, hidden_size, max_position_embeddings, type_vocab_size):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq = input_ids.shape[1]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(self.position_ids[:, :seq])
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden_size, heads):
        super().__init__()
        self.heads, self.head_dim = heads, hidden_size // heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)

    def _split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        b, _, t, _ = out.shape
        return out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)


class BertSelfOutput(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, hidden_size, heads):
        super().__init__()
        self.self = BertSelfAttention(hidden_size, heads)
        self.output = BertSelfOutput(hidden_size)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.dense = nn.Linear(hidden_size, intermediate_size)
        self.intermediate_act_fn = nn.GELU()

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.dense = nn.Linear(intermediate_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertLayer(nn.Module):
    def __init__(self, hidden_size, heads, intermediate_size):
        super().__init__()
        self.attention = BertAttention(hidden_size, heads)
        self.intermediate = BertIntermediate(hidden_size, intermediate_size)
        self.output = BertOutput(hidden_size, intermediate_size)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, hidden_size, heads, intermediate_size, layers):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(hidden_size, heads, intermediate_size) for _ in range(layers))

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x):
        return self.activation(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
                 max_position_embeddings, type_vocab_size, pooler: bool = False):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab_size, hidden_size, max_position_embeddings, type_vocab_size)
        self.encoder = BertEncoder(hidden_size, num_attention_heads, intermediate_size, num_hidden_layers)
        self.pooler: Optional[BertPooler] = BertPooler(hidden_size) if pooler else None

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids, token_type_ids)
        # the padding mask as HF's get_extended_attention_mask makes it: (B, 1, 1, S), 0 or the dtype's minimum
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        return self.encoder(x, mask)


class BertForQuestionAnswering(nn.Module):
    def __init__(self, **config):
        super().__init__()
        self.bert = BertModel(**config)
        self.qa_outputs = nn.Linear(config["hidden_size"], 2)

    def forward(self, input_ids, attention_mask, token_type_ids):
        logits = self.qa_outputs(self.bert(input_ids, attention_mask, token_type_ids))
        start, end = logits.split(1, dim=-1)
        return start.squeeze(-1), end.squeeze(-1)


class BertForSequenceClassification(nn.Module):
    def __init__(self, num_labels: int = 2, **config):
        super().__init__()
        self.bert = BertModel(**config, pooler=True)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(config["hidden_size"], num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        pooler = self.bert.pooler
        assert pooler is not None   # built with pooler=True
        pooled = pooler(self.bert(input_ids, attention_mask, token_type_ids))
        return self.classifier(self.dropout(pooled))


def bert_large(seq: int = 384, head: str = "qa", num_labels: int = 2):
    """BERT-large (MLPerf's: QA head, sequence 384) and its three int64 inputs of ``seq`` tokens."""
    if not 1 <= seq <= LARGE["max_position_embeddings"]:
        raise ValueError(f"seq {seq}: BERT-large takes 1 to {LARGE['max_position_embeddings']} tokens")
    if head == "qa":
        model: nn.Module = BertForQuestionAnswering(**LARGE)
    elif head == "classify":
        model = BertForSequenceClassification(num_labels=num_labels, **LARGE)
    else:
        raise ValueError(f"head '{head}': expected 'qa' or 'classify'")
    inputs = {name: f"int64:{seq}" for name in ("input_ids", "attention_mask", "token_type_ids")}
    return model, inputs
