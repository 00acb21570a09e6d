"""All decoding and encoding (PyAV, Pillow); nothing else in the package touches media files."""

from .audio import SAMPLE_RATE_HZ, AudioInfo, audio_info, load_audio
from .image import load_image, save_image
from .video import VideoFrame, VideoInfo, VideoWriter, probe_video, read_frames

__all__ = [
    "SAMPLE_RATE_HZ", "AudioInfo", "audio_info", "load_audio", "load_image", "save_image",
    "VideoFrame", "VideoInfo", "VideoWriter", "probe_video", "read_frames",
]
