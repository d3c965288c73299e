from django.urls import path

from speech import views

urlpatterns = [
    path("speech/", views.studio, name="speech"),
    path("speech/<int:clip_id>/download", views.download, name="speech-download"),
    path("speech/<int:clip_id>/audio", views.audio, name="speech-audio"),
    path("api/speech/", views.api_clips, name="api-speech"),
    path("api/speech/preview/", views.api_preview, name="api-speech-preview"),
    path("api/speech/blends/", views.api_blends, name="api-speech-blends"),
    path(
        "api/speech/blends/<int:blend_id>/",
        views.api_blend,
        name="api-speech-blend",
    ),
    path("api/speech/<int:clip_id>/", views.api_clip, name="api-speech-clip"),
]
