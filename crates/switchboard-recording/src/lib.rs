//! Call recording for Switchboard: stereo WAV (customer left, agent right) through hound, aligned by RTP timestamps, crash repair, storage layout, Range reads, waveform peaks.
