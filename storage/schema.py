"""Every table of the project: importing a model module registers its tables on the metadata."""

from storage import feedback, meetings, models

metadata = models.Base.metadata

__all__ = ["feedback", "meetings", "metadata", "models"]
