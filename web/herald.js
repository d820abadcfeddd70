// Herald live updates
