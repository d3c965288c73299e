"""Create the "Reviewers" group with the permission the review queue needs.

Permissions are normally made after all migrations (post_migrate), so the one the
group needs is made here; post_migrate then finds it and leaves it be.
"""

from django.db import migrations

GROUP = "Reviewers"
CODENAME = "review_message"
# The queue itself only checks review_message; the view permissions let the
# group's members open the items and decisions through the admin's usual checks.
VIEW_CODENAMES = {
    "reviewitem": "view_reviewitem",
    "reviewdecision": "view_reviewdecision",
}
NAMES = {"reviewitem": "review item", "reviewdecision": "review decision"}


def create_reviewers(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    item_type, _ = ContentType.objects.get_or_create(
        app_label="review", model="reviewitem"
    )
    permissions = [
        Permission.objects.get_or_create(
            content_type=item_type,
            codename=CODENAME,
            defaults={"name": "Can review flagged messages"},
        )[0]
    ]
    for model, codename in VIEW_CODENAMES.items():
        content_type, _ = ContentType.objects.get_or_create(
            app_label="review", model=model
        )
        permissions.append(
            Permission.objects.get_or_create(
                content_type=content_type,
                codename=codename,
                defaults={"name": f"Can view {NAMES[model]}"},
            )[0]
        )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*permissions)


def remove_reviewers(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_reviewers, remove_reviewers)]
