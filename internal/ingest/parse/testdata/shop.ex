defmodule Shop.Cart do
  @moduledoc """
  A shopping cart.
  """
  alias Shop.{Item, Price}
  alias Shop.Repo, as: R
  import Ecto.Query
  require Logger
  use GenServer

  @doc "Adds an item."
  def add(cart, %Item{} = item) do
    Logger.info("add")
    R.insert(Price.compute(item))
  end

  def add(cart, nil), do: cart

  defp total(items) when is_list(items), do: Enum.sum(items)

  defmacro debug(expr) do
    quote do: IO.inspect(unquote(expr))
  end

  def empty, do: []

  defmodule Line do
    def new(x), do: x
  end
end
