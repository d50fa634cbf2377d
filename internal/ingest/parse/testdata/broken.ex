defmodule Broken do
  alias Shop.Repo
  def good(x), do: x

  def bad(x do
    x +
  end

  def after_bad, do: :ok
end
