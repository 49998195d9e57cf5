"""GraphQL: a household's welfare rank (desil) with its reasons, the model registry, model activation."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.scalars import JSON
from strawberry.types import Info

from core.audit.log import record as record_audit
from core.schema.access import Forbidden, allowed, audit_denied, require
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.enums import enum_twin
from core.schema.errors import NotFound, ValidationError
from core.welfare.errors import ModelFileError, UnknownModel, WelfareError
from core.welfare.evaluate import Evaluation
from core.welfare.explain import Direction, Factor
from core.welfare.model import ModelKind
from core.welfare.queries import WelfareRankRecord
from core.welfare.registry import ModelRecord, activate_model, list_models

WelfareEffect = strawberry.enum(
    Direction, name="WelfareEffect", description="Whether an answer raised or lowered the score."
)
MAX_FACTORS = 40


@guarded("household")
@strawberry.type(description="One answer of the household and how it moved the welfare score.")
class WelfareFactor:
    feature: str = strawberry.field(description="What was asked, in words (e.g. 'main floor material').")
    name: str = strawberry.field(description="The feature's name in the model (e.g. floor_material).")
    value: str = strawberry.field(description="The household's answer, in words.")
    effect: WelfareEffect  # type: ignore[valid-type]
    size: float = strawberry.field(description="Change of the score (natural log of spending per person).")
    percent: float = strawberry.field(description="The same change as percent of the estimated spending per person.")
    sentence: str = strawberry.field(description="A sentence an officer can read out to the family.")

    @classmethod
    def of(cls, factor: Factor) -> WelfareFactor:
        return cls(
            feature=factor.label,
            name=factor.feature,
            value=factor.value,
            effect=factor.direction,
            size=factor.effect,
            percent=factor.percent,
            sentence=factor.sentence,
        )


@guarded("household")
@strawberry.type(
    description="The household's place in the welfare ranking: decile 1 holds the poorest tenth (desil 1)."
)
class Welfare:
    score: float = strawberry.field(description="Predicted natural log of monthly consumption per person (Rupiah).")
    decile: int = strawberry.field(description="National decile, 1 = poorest tenth.")
    regency_decile: int = strawberry.field(description="Decile within the household's regency/city.")
    model_version: str
    ranked_at: datetime

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, WelfareRankRecord)

    @strawberry.field(description="The model's estimate of monthly consumption per person, in Rupiah.")
    def estimated_consumption(self: WelfareRankRecord) -> float:  # type: ignore[misc]
        return round(math.exp(self.score))

    @strawberry.field(
        description="The answers that raised or lowered the score most, largest first (SHAP values for CatBoost, "
        "weight times distance from the average for the PMT). Read from the household's current answers."
    )
    async def factors(self: WelfareRankRecord, info: Info[Context, None], limit: int = 10) -> list[WelfareFactor]:  # type: ignore[misc]
        if not 0 <= limit <= MAX_FACTORS:
            raise GraphQLError(f"limit: must be between 0 and {MAX_FACTORS}, not {limit}")
        explanation = await info.context.loaders.welfare_explanation.load(self.explanation_key)
        if explanation is None:
            return []
        return [WelfareFactor.of(factor) for factor in explanation.factors[:limit]]


@guarded("welfare_model")
@strawberry.type(description="Targeting errors when a program covers a share of households by the ranking.")
class WelfareTargeting:
    coverage: float = strawberry.field(description="Share of households covered, e.g. 0.4.")
    households: int
    inclusion_error: float = strawberry.field(description="Share of those covered who are not among the poorest.")
    exclusion_error: float = strawberry.field(description="Share of the poorest who are not covered.")


@guarded("welfare_model")
@strawberry.type(description="How well a model ranked households it was not trained on.")
class WelfareEvaluation:
    rows: int
    spearman: float
    rmse: float
    r2: float
    targeting: list[WelfareTargeting]

    @classmethod
    def of(cls, data: dict[str, Any]) -> WelfareEvaluation:
        evaluation = Evaluation.from_dict(data)
        return cls(
            rows=evaluation.rows,
            spearman=evaluation.spearman,
            rmse=evaluation.rmse,
            r2=evaluation.r2,
            targeting=[
                WelfareTargeting(
                    coverage=t.coverage,
                    households=t.households,
                    inclusion_error=t.inclusion_error,
                    exclusion_error=t.exclusion_error,
                )
                for t in evaluation.targeting
            ],
        )


WelfareModelKind = strawberry.enum(ModelKind, name="WelfareModelKind", description="How a welfare model ranks.")


@guarded("welfare_model")
@strawberry.type(description="A registered welfare model (PMT or CatBoost); one is active and ranks households.")
class WelfareModel:
    version: str
    kind: str = strawberry.field(
        description="pmt or catboost.",
        deprecation_reason="The stored spelling: read modelKind, an enum as the rest of the API spells it.",
    )
    model_kind: WelfareModelKind = enum_twin(
        WelfareModelKind, "kind", "PMT (a Proxy Means Test) or CATBOOST (a CatBoost ranking)."
    )
    active: bool
    author: str
    created_at: datetime
    activated_at: datetime | None
    activated_by: str | None
    feature_set: str
    features: list[str]
    parameters: JSON
    training_source: str
    training_checksum: str = strawberry.field(description="sha256 of the training data as read.")
    training_rows: int
    metrics: JSON = strawberry.field(description="The held-out evaluation, the PMT baseline and later evaluations.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, ModelRecord)

    @strawberry.field(description="Accuracy on the households held out from training.")
    def holdout(self: ModelRecord) -> WelfareEvaluation:  # type: ignore[misc]
        return WelfareEvaluation.of(self.metrics["holdout"])

    @strawberry.field(description="For a CatBoost model: the PMT fitted on the same split, for comparison.")
    def baseline_pmt(self: ModelRecord) -> WelfareEvaluation | None:  # type: ignore[misc]
        baseline = self.metrics.get("baseline_pmt")
        return WelfareEvaluation.of(baseline) if baseline else None


ActivateWelfareModelResult = Annotated[
    WelfareModel | NotFound | ValidationError,
    strawberry.union("ActivateWelfareModelResult", description="The model now active, or why nothing changed."),
]


@strawberry.type
class WelfareQuery:
    @strawberry.field(description="Registered welfare models, newest first; the active one ranks households.")
    async def welfare_models(self, info: Info[Context, None]) -> list[WelfareModel]:
        require(info.context, "welfare_model", "read")
        async with info.context.engine.connect() as conn:
            return await list_models(conn)  # type: ignore[return-value]


@strawberry.type
class WelfareMutation:
    @strawberry.mutation(
        description="Make a registered model the active one (activating an earlier version rolls back). Its file is "
        "checked first; a refusal changes nothing. Deciles change when the ranking is next applied."
    )
    async def activate_welfare_model(self, info: Info[Context, None], version: str) -> ActivateWelfareModelResult:
        context = info.context
        if not allowed(context, "welfare_model", "write"):
            await audit_denied(context, "activateWelfareModel", "welfare_model", version[:64], "role may not")
            raise Forbidden(context.principal, "welfare_model", "write")

        async def audit(conn: AsyncConnection, activated: object) -> None:
            await record_audit(
                conn,
                context.request_info,
                operation="activateWelfareModel",
                entity="welfare_model",
                entity_id=version[:64],
                after={"version": version, "active": True},
            )

        try:
            record = await activate_model(
                context.engine,
                version,
                model_dir=context.settings.model_dir,
                actor=context.principal.username,
                on_written=audit,
            )
        except UnknownModel as exc:
            return NotFound(message=str(exc))
        except (ModelFileError, WelfareError) as exc:
            return ValidationError.single("version", str(exc))
        return record  # type: ignore[return-value]
