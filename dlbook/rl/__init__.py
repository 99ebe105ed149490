"""Reinforcement learning: chapter 12, from a Q-table to a deep Q-network that plays Flappy Bird.

``tabular_q``  Q-learning on a corridor small enough to print its Q-table
``dqn``        replay memory, Bellman targets (Double DQN), the Huber loss, the agent
``training``   resumable DQN training over a pool of environments, with atomic checkpoints
``flappy``     the game for a DQN (12 features or stacked frames), recipes, evaluation, GIFs
"""
