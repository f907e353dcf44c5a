"""The seed's layout: ``import isaac_so_arm101.tasks.reach`` / ``.lift`` registers the gym ids (importing
``isaac_so_arm101`` already does; these modules name the ids of each task)."""
