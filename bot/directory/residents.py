"""Residents: where they live and what they want to receive. No Telegram."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit import record
from bot.directory.models import Area, Person, Subscription, SubscriptionTopic

ALL_TOPICS = tuple(SubscriptionTopic)


async def subscriptions_of(session: AsyncSession, *, person_id: int) -> set[SubscriptionTopic]:
    return set(await session.scalars(
        select(Subscription.topic).where(Subscription.person_id == person_id)))


async def set_home(session: AsyncSession, *, person: Person, area: Area) -> None:
    """Record where the resident lives; the first time, subscribe them to everything."""
    before = {"area_id": person.area_id}
    first_time = person.area_id is None
    person.area_id = area.id
    if first_time and not await subscriptions_of(session, person_id=person.id):
        session.add_all(Subscription(person_id=person.id, topic=t) for t in ALL_TOPICS)
    await session.flush()
    await record(session, actor_id=person.id, action="resident.home", object_type="person",
                 object_id=person.id, before=before, after={"area_id": area.id})


async def toggle_subscription(
    session: AsyncSession, *, person: Person, topic: SubscriptionTopic
) -> set[SubscriptionTopic]:
    current = await subscriptions_of(session, person_id=person.id)
    if topic in current:
        await session.execute(delete(Subscription).where(
            Subscription.person_id == person.id, Subscription.topic == topic))
        after = current - {topic}
    else:
        session.add(Subscription(person_id=person.id, topic=topic))
        after = current | {topic}
    await session.flush()
    await record(session, actor_id=person.id, action="resident.subscriptions",
                 object_type="person", object_id=person.id,
                 before={"topics": sorted(current)}, after={"topics": sorted(after)})
    return after
