"""The shared whiteboard of a lesson: the document, its storage, who may draw, export."""
