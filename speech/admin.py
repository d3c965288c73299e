from django.contrib import admin

from speech.models import SpeechClip, VoiceBlend


@admin.register(SpeechClip)
class SpeechClipAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "owner",
        "status",
        "model",
        "parts_total",
        "duration_ms",
        "characters_billed",
        "created_at",
    )
    list_filter = ("status", "model", "endpoint")
    search_fields = ("text", "owner__username", "trace_ids")
    list_select_related = ("owner",)
    # The file has no public URL (only the owner's download view serves it), so the
    # admin shows where it is stored instead of a link.
    exclude = ("file",)
    readonly_fields = (
        "stored_file",
        "trace_ids",
        "parts_done",
        "parts_total",
        "duration_ms",
        "size_bytes",
        "characters_billed",
        "heartbeat_at",
        "finished_at",
    )

    @admin.display(description="file")
    def stored_file(self, clip: SpeechClip) -> str:
        return clip.file.name or "-"


@admin.register(VoiceBlend)
class VoiceBlendAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "model", "created_at")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
