"""SQLAlchemy 2's ORM writing through a driver (argv[1]: a database URL): a flush of
new objects (INSERT ... RETURNING for the server's defaults), an update through the
identity map, UPDATE/DELETE ... RETURNING, and reads back. Prints JSON of what the
application saw; the test compares it with PostgreSQL's."""

import json
import sys

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "orm_people"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str]
    team: Mapped[str] = mapped_column(server_default="none")


engine = sa.create_engine(sys.argv[1])
seen = {}
with Session(engine) as session:
    people = [Person(id=i, name=f"p{i}") for i in range(1, 6)]
    session.add_all(people)
    session.flush()
    seen["defaults after flush"] = [[p.id, p.team] for p in people]
    session.commit()
    person = session.get(Person, 2)
    person.name = "renamed"
    session.commit()
    moved = session.execute(
        sa.update(Person).where(Person.id > 3).values(team="x").returning(Person.id, Person.team)
    ).all()
    seen["update returning"] = sorted([list(r) for r in moved])
    gone = session.execute(sa.delete(Person).where(Person.id == 1).returning(Person.name)).all()
    seen["delete returning"] = [list(r) for r in gone]
    session.commit()
    rows = session.scalars(sa.select(Person).order_by(Person.id)).all()
    seen["rows"] = [[p.id, p.name, p.team] for p in rows]
print(json.dumps(seen))
